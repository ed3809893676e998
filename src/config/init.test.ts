import { afterAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import TOML from "@iarna/toml";
import { OperationError } from "../errors.ts";
import { appNameFromModule, renderInitConfig, writeInitConfig } from "./init.ts";
import { loadConfig } from "./load.ts";
import { renderSchemaJson } from "./schema.ts";

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tempDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "qdeploy-init-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

describe("appNameFromModule", () => {
  const rows: [string, string][] = [
    ["github.com/acme/hello", "hello"],
    ["github.com/acme/Hello_World.go", "hello-world-go"],
    ["github.com/acme/api/v2", "api"],
    ["example.com/2fast", "fast"],
    ["hello", "hello"],
    ["github.com/acme/___", "app"],
    [`x/${"long".repeat(10)}`, "longlonglonglonglonglonglonglong"],
  ];
  for (const [module, app] of rows) test(`${module} -> ${app}`, () => expect(appNameFromModule(module)).toBe(app));
});

describe("renderInitConfig", () => {
  test("starts with the #:schema line and parses", () => {
    const text = renderInitConfig({ app: "hello", module: "github.com/acme/hello", processes: null });
    expect(text.split("\n")[0]).toBe("#:schema ./.qdeploy/deploy.schema.json");
    expect(TOML.parse(text)).toMatchObject({ app: "hello", processes: { web: "hello" }, build: { main: "." } });
  });

  test("without a Procfile: passes loadConfig, web runs the binary", async () => {
    const dir = await tempDir({ "deploy.toml": renderInitConfig({ app: "hello", module: "example.com/hello", processes: null, main: "./cmd/hello" }) });
    const { problems, raw } = await loadConfig(path.join(dir, "deploy.toml"));
    expect(problems).toEqual([]);
    expect(Object.keys(raw.environments!)).toEqual(["prod", "sandbox"]);
    const { config } = await loadConfig(path.join(dir, "deploy.toml"), "sandbox");
    expect(config!.web).toEqual({ domains: ["hello.localhost"], health: "/", tls: "internal", drainSec: 30, healthTimeoutSec: 60 });
    expect(config!.build.main).toBe("./cmd/hello");
  });

  test("with a Procfile without web: no [web] anywhere, passes loadConfig", async () => {
    const procfile = "worker: jobs work\nclock: jobs clock\n";
    const text = renderInitConfig({ app: "jobs", module: "example.com/jobs", processes: { worker: "jobs work", clock: "jobs clock" } });
    expect(text).toContain("#   worker: jobs work\n#   clock: jobs clock\n");
    expect(text).not.toMatch(/^\[web\]|^web =/m);
    const dir = await tempDir({ "deploy.toml": text, Procfile: procfile });
    const { problems, config } = await loadConfig(path.join(dir, "deploy.toml"), "prod");
    expect(problems).toEqual([]);
    expect(config!.processes).toEqual({ worker: "jobs work", clock: "jobs clock" });
  });
});

test("renderInitConfig: the install line's -tags/-ldflags as [build] keys, a flag with no key named, the build keys commented", () => {
  const text = renderInitConfig({ app: "shop", module: "example.com/shop", processes: null, main: ["./cmd/migrate", "."], tags: ["postgres", "x"], ldflags: "-w", leftOut: ["-race", "-gcflags all=-N"] });
  const build = text.slice(text.indexOf("[build]"), text.indexOf("[processes]"));
  expect(build).toBe(
    [
      "[build]                            # cross-compiled locally for each host's OS and CPU",
      'main = ["./cmd/migrate", "."]      # each main package becomes bin/NAME',
      'tags = ["postgres", "x"]           # from go.mod\'s install line',
      'ldflags = "-w"                     # from go.mod\'s install line',
      "# go.mod's install line also has -race, which qdeploy has no [build] key for: left out",
      "# go.mod's install line also has -gcflags all=-N, which qdeploy has no [build] key for: left out",
      "# cgo = false                      # true: C code (e.g. mattn/go-sqlite3) built with zig, still one static file",
      '# go = "go1.25"                    # the Go to build with; default: go.mod\'s goVersion, toolchain or go line',
      '# stamp = { symbol = "main.version", value = "{git.sha}" }',
      "",
      "",
    ].join("\n"),
  );
  expect(TOML.parse(text)).toMatchObject({ build: { tags: ["postgres", "x"], ldflags: "-w" } });
});

describe("writeInitConfig", () => {
  test("reads go.mod and Procfile, finds the main package, writes deploy.toml and the schema", async () => {
    const dir = await tempDir({
      "go.mod": "module github.com/acme/shop/v3\n\ngo 1.22\n",
      Procfile: "web: shop serve\nworker: shop work\n",
      "cmd/shop/main.go": "package main\n",
    });
    const written = await writeInitConfig(dir);
    expect(written).toBe(path.join(dir, "deploy.toml"));
    const text = await readFile(written, "utf8");
    expect(text).toContain('app = "shop"');
    expect(text).toContain('main = "./cmd/shop"');
    expect(await readFile(path.join(dir, ".qdeploy/deploy.schema.json"), "utf8")).toBe(renderSchemaJson());
    const { problems, config } = await loadConfig(written, "prod");
    expect(problems).toEqual([]);
    expect(config!.processes).toEqual({ web: "shop serve", worker: "shop work" });
  });

  test("refuses to overwrite deploy.toml", async () => {
    const dir = await tempDir({ "go.mod": "module x\n", "deploy.toml": "app = 'mine'\n" });
    const err = await writeInitConfig(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toBe(`${path.join(dir, "deploy.toml")} already exists; edit it (\`qdeploy check\` validates it) or remove it first`);
    expect(await readFile(path.join(dir, "deploy.toml"), "utf8")).toBe("app = 'mine'\n");
  });

  test("an install line that does not read as a shell line is an error, not a guess", async () => {
    const dir = await tempDir({ "go.mod": "module x\n// +heroku install -tags 'pg ./cmd/x\n" });
    await expect(writeInitConfig(dir)).rejects.toThrow(`go.mod:2 // +heroku install: cannot be read as a shell line: unterminated ' in "-tags 'pg ./cmd/x"; fix the line, or remove it and write build.main yourself`);
  });

  test("needs a go.mod", async () => {
    const dir = await tempDir({});
    await expect(writeInitConfig(dir)).rejects.toThrow(`no go.mod in ${dir}; run \`go mod init MODULE\` first`);
  });
});
