import { describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { requireTool } from "../../test/tools.ts";
import { addIgnoredLines, writeInitConfig } from "../config/init.ts";
import { createOutput } from "../output.ts";
import { check } from "./check.ts";
import { checkPackages, loadWithPackages } from "./check-packages.ts";

const HEROKU = path.resolve(import.meta.dir, "../../examples/heroku");

/** A copy of examples/heroku (go.mod with `// +heroku install ./cmd/...`, a Procfile, three programs). */
function herokuApp(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "qd-check-pkgs-"));
  cpSync(HEROKU, dir, { recursive: true });
  return dir;
}

async function runCheck(dir: string): Promise<{ code: number; errors: string[] }> {
  const errors: string[] = [];
  const out = createOutput({ quiet: true, write: () => {}, writeErr: (t) => errors.push(t.trim()) });
  const code = await check({ out, configFile: path.join(dir, "deploy.toml"), lockWaitSec: 0 });
  return { code, errors: errors.filter((e) => e.startsWith("error:")).map((e) => e.replaceAll(`${dir}/`, "")) };
}

const TOML = (build: string) => `app = "shop"
[build]
${build}
[web]
domains = ["shop.example.com"]
health = "/healthz"
[environments.prod]
hosts = ["deploy@203.0.113.10"]
`;

describe("check expands build.main", () => {
  requireTool("go");

  test("init on a Heroku-shaped app writes a deploy.toml that check accepts, with main from the install line", async () => {
    const dir = herokuApp();
    writeFileSync(path.join(dir, ".gitignore"), "/.qdeploy/build\nnode_modules");
    await writeInitConfig(dir);
    const text = readFileSync(path.join(dir, "deploy.toml"), "utf8");
    expect(text).toMatch(/^main = "\.\/cmd\/\.\.\." +# from go\.mod's \/\/ \+heroku install \(line 4\)/m);
    expect(text).not.toMatch(/^\[processes\]/m); // the Procfile stays the source
    expect(text).toContain("#   release: bin/migrate\n");
    expect(await runCheck(dir)).toEqual({ code: 0, errors: [] });
    // The existing line is kept as written, the missing one appended once.
    expect(readFileSync(path.join(dir, ".gitignore"), "utf8")).toBe("/.qdeploy/build\nnode_modules\n.qdeploy/sandbox\n");
    const { binaries } = await checkPackages({ app: "herokuapp", build: { main: "./cmd/..." } } as never, path.join(dir, "deploy.toml"));
    expect(binaries).toEqual(["migrate", "web", "worker"]);
  });

  test.each([
    ['main = "./nope"', /^error: deploy\.toml:3 build\.main: "\.\/nope": .*directory not found$/],
    // One program may be named by build.binary; the Procfile's other programs are then not built.
    ['main = "./cmd/web/..."\nbinary = "x"', /^error: Procfile:2 worker: "bin\/worker" is not a binary of the release; use "web" \(or "bin\/web"\), "x" \(or "bin\/x"\)/],
    ['main = ["./cmd/web", "./internal/..."]', /^error: deploy\.toml:3 build\.main: "\.\/internal\/\.\.\." holds no main package/],
    ['main = "./cmd/..."\nbinary = "shop"', /^error: deploy\.toml:4 build\.binary: names one executable, but build\.main has 3 programs \(migrate, web, worker\); remove build\.binary: each is bin\/NAME$/],
  ])("%s", async (build, wanted) => {
    const dir = herokuApp();
    mkdirSync(path.join(dir, "internal/db"), { recursive: true });
    writeFileSync(path.join(dir, "internal/db/db.go"), "package db\n");
    writeFileSync(path.join(dir, "deploy.toml"), TOML(build));
    const r = await runCheck(dir);
    expect(r.code).toBe(2);
    expect(r.errors[0]).toMatch(wanted);
    // A spec that does not expand blames build.main alone, not the Procfile's commands too.
    expect(r.errors).toHaveLength(build.includes("binary = \"x\"") ? 2 : 1);
  });

  test("loading one environment expands its packages alone; check expands every environment's", async () => {
    const dir = herokuApp();
    writeFileSync(
      path.join(dir, "deploy.toml"),
      TOML("").replace("[environments.prod]", '[environments.staging]\nhosts = ["deploy@203.0.113.11"]\nbuild = { main = "./nope" }\n[environments.prod]'),
    );
    const file = path.join(dir, "deploy.toml");
    expect((await loadWithPackages(file, "prod")).problems).toEqual([]);
    expect((await loadWithPackages(file, "staging")).problems.map((p) => p.path)).toEqual(["environments.staging.build.main"]);
    const r = await runCheck(dir);
    expect(r.code).toBe(2);
    expect(r.errors).toEqual([expect.stringMatching(/^error: deploy\.toml:\d+ environments\.staging\.build\.main: "\.\/nope": /)]);
  });

  test("packages from go.mod that hold no program say where they came from", async () => {
    const dir = herokuApp();
    writeFileSync(path.join(dir, "go.mod"), readFileSync(path.join(dir, "go.mod"), "utf8").replace("./cmd/...", "./static/..."));
    mkdirSync(path.join(dir, "static"));
    writeFileSync(path.join(dir, "static/s.go"), "package static\n");
    writeFileSync(path.join(dir, "deploy.toml"), TOML(""));
    const r = await runCheck(dir);
    expect(r.code).toBe(2);
    expect(r.errors).toEqual(['error: deploy.toml:2 build.main: "./static/..." holds no main package (a Go program: package main with func main) (packages from go.mod:4 // +heroku install)']);
  });
});

test("addIgnoredLines: appends what is missing, once", () => {
  expect(addIgnoredLines("")).toBe(".qdeploy/build\n.qdeploy/sandbox\n");
  expect(addIgnoredLines("bin")).toBe("bin\n.qdeploy/build\n.qdeploy/sandbox\n");
  const once = addIgnoredLines("x\n");
  expect(addIgnoredLines(once)).toBe(once);
  expect(addIgnoredLines(".qdeploy/build/\n/.qdeploy/sandbox\n")).toBe(".qdeploy/build/\n/.qdeploy/sandbox\n");
});
