import { describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { requireTool } from "../../test/tools.ts";
import { addIgnoredLines, writeInitConfig } from "../config/init.ts";
import { createOutput } from "../output.ts";
import { Redactor } from "../secrets/redact.ts";
import { check } from "./check.ts";
import { checkPackages, loadWithPackages } from "../config/check-packages.ts";

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
  const code = await check({ out, redactor: new Redactor(), configFile: path.join(dir, "deploy.toml"), lockWaitSec: 0 });
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

/** A module written here: `files` by path, and a deploy.toml whose [build] table is `build`. */
function moduleApp(files: Record<string, string>, build = "", processes = 'web = "bin/app"'): string {
  const dir = mkdtempSync(path.join(tmpdir(), "qd-check-build-"));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    writeFileSync(path.join(dir, p), text);
  }
  writeFileSync(path.join(dir, "deploy.toml"), TOML(build).replace("[web]", `[processes]\n${processes}\n[web]`));
  return dir;
}
const CSUM = 'package csum\n\n// static int add(int a, int b) { return a + b; }\nimport "C"\n\nfunc Add(a, b int) int { return int(C.add(C.int(a), C.int(b))) }\n';
const CGO_APP = {
  "go.mod": "module example.com/app\n\ngo 1.22\n",
  "main.go": 'package main\n\nimport (\n\t"fmt"\n\t"net"\n\n\t"example.com/app/csum"\n)\n\nfunc main() { fmt.Println(csum.Add(1, 2), net.IPv4len) }\n',
  "csum/csum.go": CSUM,
};

describe("check refuses what the build would refuse, or build wrong", () => {
  requireTool("go");

  test.each([
    ["", 2],
    ["cgo = false", 0], // written: the user chose to build without the C code
    ["cgo = true", 0],
  ])("a package with C code and [build] %p: exit %p", async (build, code) => {
    const r = await runCheck(moduleApp(CGO_APP, build));
    expect(r.code).toBe(code);
    if (code) {
      expect(r.errors).toEqual([
        "error: deploy.toml:2 build.cgo: example.com/app/csum has C code (cgo), which a build with cgo off leaves out, so the program may fail when it runs " +
          "(mattn/go-sqlite3, for one, builds a stub that fails every query). Set cgo = true (qdeploy compiles the C with zig: still one static file), " +
          "or write cgo = false to build without it.",
      ]);
    }
  });

  test("commands that only read (logs, status) do not list dependencies: loadWithPackages without build", async () => {
    const file = path.join(moduleApp(CGO_APP), "deploy.toml");
    expect((await loadWithPackages(file, "prod")).problems).toEqual([]);
    expect((await loadWithPackages(file, "prod", { build: true })).problems.map((p) => p.path)).toEqual(["build.cgo"]);
  });

  test("a Go version the build would refuse is refused by check, once, with the fix", async () => {
    const r = await runCheck(moduleApp({ "go.mod": "module example.com/app\n\ngo 1.99\n", "main.go": "package main\n\nfunc main() {}\n" }));
    expect(r.code).toBe(2);
    expect(r.errors).toEqual([expect.stringMatching(/^error: deploy\.toml: go\.mod:3 go asks for Go 1\.99 or newer, but the local Go is go1\.\d+\.\d+\. .*set \[build\] go = "go1\.99" to have qdeploy fetch that Go/)]);
  });

  test.each([
    ['go = "go1.30"', "// +heroku goVersion go1.20\n", /^error: deploy\.toml:3 build\.go: build\.go go1\.30: the Go module proxy did not answer and no go1\.30 toolchain was fetched before; connect to the network/],
    ["", "// +heroku goVersion go1.30\n", /^error: deploy\.toml: go\.mod:3 \/\/ \+heroku goVersion go1\.30: the Go module proxy did not answer/],
  ])("a pin that cannot be fetched (offline here) is refused by check: [build] %s", async (build, directive, wanted) => {
    const dir = moduleApp({ "go.mod": `module example.com/app\n\n${directive}go 1.22\n`, "main.go": "package main\n\nfunc main() {}\n" }, build);
    const saved = { GOPROXY: process.env.GOPROXY, XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, GOVERSION: process.env.GOVERSION };
    Object.assign(process.env, { GOPROXY: "off", XDG_CACHE_HOME: mkdtempSync(path.join(tmpdir(), "qd-cache-")) });
    delete process.env.GOVERSION;
    try {
      const r = await runCheck(dir);
      expect(r.code).toBe(2);
      expect(r.errors).toEqual([expect.stringMatching(wanted)]);
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  });

  test("real old pins pass check: go1.14, and go1.16 under a go 1.23 line (built with the local Go, said at build)", async () => {
    for (const goMod of ["// +heroku goVersion go1.14\nmodule example.com/app\n\ngo 1.14\n", "module example.com/app\n\n// +heroku goVersion go1.16\ngo 1.23\n"]) {
      expect(await runCheck(moduleApp({ "go.mod": goMod, "main.go": "package main\n\nfunc main() {}\n" }))).toEqual({ code: 0, errors: [] });
    }
  });

  test("an install line's flags are honoured from go.mod; one with no [build] key is named", async () => {
    const files = {
      "cmd/migrate/main.go": "//go:build postgres\n\npackage main\n\nfunc main() {}\n",
      "main.go": "package main\n\nfunc main() {}\n",
    };
    const ok = moduleApp({ ...files, "go.mod": "module example.com/app\n\n// +heroku install -tags 'postgres' ./cmd/migrate .\ngo 1.22\n" }, "", 'web = "bin/app"\nworker = "migrate"');
    expect(await runCheck(ok)).toEqual({ code: 0, errors: [] });
    const bad = moduleApp({ ...files, "go.mod": "module example.com/app\n\n// +heroku install -tags postgres -gcflags=all=-N ./cmd/migrate .\ngo 1.22\n" });
    expect(await runCheck(bad)).toEqual({
      code: 2,
      errors: ["error: deploy.toml:2 build.main: -gcflags has no [build] key in qdeploy; remove it (qdeploy builds with -trimpath -buildvcs=false and [build] tags and ldflags) (packages from go.mod:3 // +heroku install)"],
    });
  });

  test("an install line naming a .go file: the program is main, as go install names it", async () => {
    const dir = moduleApp({ "go.mod": "module example.com/app\n\n// +heroku install ./cmd/admin/main.go\ngo 1.22\n", "cmd/admin/main.go": "package main\n\nfunc main() {}\n" }, "", 'web = "bin/main"\nworker = "main work"');
    expect(await runCheck(dir)).toEqual({ code: 0, errors: [] });
  });

  test("init turns the install line's flags into [build] keys, and check accepts what it wrote", async () => {
    const dir = moduleApp({
      "go.mod": "module example.com/app\n\n// +heroku install -tags 'postgres' -ldflags \"-s -X main.v=1\" -race ./cmd/migrate .\ngo 1.22\n",
      "cmd/migrate/main.go": "//go:build postgres\n\npackage main\n\nfunc main() {}\n",
      "main.go": "package main\n\nfunc main() {}\n",
      Procfile: "web: bin/app\nrelease: migrate up\n",
    });
    rmSync(path.join(dir, "deploy.toml"));
    await writeInitConfig(dir);
    const text = readFileSync(path.join(dir, "deploy.toml"), "utf8");
    expect(text).toContain('main = ["./cmd/migrate", "."]      # from go.mod\'s // +heroku install (line 3); each main package becomes bin/NAME\n');
    expect(text).toContain('tags = ["postgres"]                # from go.mod\'s install line\n');
    expect(text).toContain('ldflags = "-s -X main.v=1"         # from go.mod\'s install line\n');
    expect(text).toContain("# go.mod's install line also has -race, which qdeploy has no [build] key for: left out\n");
    expect(await runCheck(dir)).toEqual({ code: 0, errors: [] });
  });
});

describe("check knows the slug's files", () => {
  requireTool("go");

  test("a command may run a committed script (./scripts/x, bin/x); one the commit lacks is refused with its line", async () => {
    const dir = herokuApp();
    mkdirSync(path.join(dir, "scripts"));
    writeFileSync(path.join(dir, "scripts/start.sh"), "#!/bin/sh\nexec bin/web\n", { mode: 0o755 });
    writeFileSync(path.join(dir, "scripts/untracked.sh"), "#!/bin/sh\n", { mode: 0o755 });
    writeFileSync(path.join(dir, "Procfile"), "web: ./scripts/start.sh\nworker: ./scripts/untracked.sh && bin/worker\n");
    writeFileSync(path.join(dir, "deploy.toml"), TOML('main = "./cmd/..."'));
    const git = (...a: string[]) => Bun.spawnSync(["git", "-c", "user.name=t", "-c", "user.email=t@t", ...a], { cwd: dir });
    git("init", "-q");
    git("add", "go.mod", "cmd", "Procfile", "deploy.toml", "scripts/start.sh");
    git("commit", "-qm", "one");
    const r = await runCheck(dir);
    expect(r.code).toBe(2);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toStartWith("error: Procfile:2 worker:");
    expect(r.errors[0]).toContain("./scripts/untracked.sh");
    git("add", "scripts/untracked.sh");
    git("commit", "-qm", "two");
    expect(await runCheck(dir)).toEqual({ code: 0, errors: [] });
    rmSync(dir, { recursive: true, force: true });
  });
});
