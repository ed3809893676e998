import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { helloConfig } from "../../test/fixtures/config.ts";
import { vendoredModule } from "../../test/fixtures/go-modules.ts";
import { requireTool } from "../../test/tools.ts";
import { loadWithPackages } from "../config/check-packages.ts";
import { requireEnvironment } from "../config/load.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { ConfigError } from "../errors.ts";
import { buildEnvironment } from "./build-vars.ts";
import { parseInstallSpec } from "./gomod.ts";
import { binaryNames, expandPackages, goListArgs, installName, packageSpec, resolveBinaries, splitJsonStream } from "./packages.ts";

const MAIN = "package main\n\nfunc main() {}\n";

/** A module example.com/shop/v2 with cmd/web, cmd/worker, cmd/v3 (a main whose folder is a version), lib (not main). */
function tempModule(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "qd-pkgs-"));
  const put = (p: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    writeFileSync(path.join(dir, p), text);
  };
  put("go.mod", "module example.com/shop/v2\n\ngo 1.22\n");
  put("cmd/web/main.go", MAIN);
  put("cmd/worker/main.go", MAIN);
  put("tools/v3/main.go", MAIN);
  put("lib/lib.go", "package lib\n");
  return dir;
}

describe("installName: as go install names a binary", () => {
  test.each([
    ["example.com/shop/cmd/web", "web"],
    ["example.com/shop/v2", "shop"],
    ["example.com/shop/v2/cmd/worker", "worker"],
    ["example.com/tools/v3", "tools"],
    ["example.com/shop/v1", "v1"],
    ["example.com/shop/v0", "v0"],
    ["example.com/shop/v02", "v02"],
    ["hello", "hello"],
    ["v2", "v2"],
  ])("%s -> %s", (importPath, name) => expect(installName(importPath)).toBe(name));
});

describe("packageSpec: where the patterns come from", () => {
  const mod = { herokuInstall: { ...parseInstallSpec("-tags pg ./cmd/..."), line: 4 } };
  test.each([
    ["build.main string, split on spaces", "./cmd/web ./cmd/worker", {}, {}, mod, ["./cmd/web", "./cmd/worker"], "build.main", {}],
    ["build.main list", ["./cmd/web"], { GO_INSTALL_PACKAGE_SPEC: "./x" }, {}, mod, ["./cmd/web"], "build.main", {}],
    ["local environment", undefined, { GO_INSTALL_PACKAGE_SPEC: " ./a  ./b " }, { GO_INSTALL_PACKAGE_SPEC: "./c" }, mod, ["./a", "./b"], "GO_INSTALL_PACKAGE_SPEC", {}],
    ["its flags, as Heroku passes it to go install", undefined, { GO_INSTALL_PACKAGE_SPEC: "-ldflags '-s' ./a" }, {}, mod, ["./a"], "GO_INSTALL_PACKAGE_SPEC", { ldflags: "-s" }],
    ["[env] table", undefined, { GO_INSTALL_PACKAGE_SPEC: "" }, { GO_INSTALL_PACKAGE_SPEC: "./c" }, mod, ["./c"], "[env] GO_INSTALL_PACKAGE_SPEC", {}],
    ["go.mod's install line, with its flags", undefined, {}, {}, mod, ["./cmd/..."], "go.mod:4 // +heroku install", { tags: ["pg"] }],
    ["default", undefined, {}, {}, null, ["."], "default", {}],
  ] as const)("%s", (_name, main, env, vars, m, patterns, source, flags) => {
    expect(packageSpec(main as string | string[] | undefined, env, vars, m)).toEqual({ patterns: [...patterns], source, flags: flags as never, problems: [] });
  });
});

test("goListArgs: the build's tags, and the module's vendor/ when it has one", () => {
  expect(goListArgs(["./cmd/..."])).toEqual(["list", "-find", "-e", "-json=ImportPath,Name,Dir,Match,Error", "--", "./cmd/..."]);
  expect(goListArgs(["."], ["a", "b"], true)).toEqual(["list", "-find", "-e", "-mod=vendor", "-tags", "a,b", "-json=ImportPath,Name,Dir,Match,Error", "--", "."]);
});

test("binaryNames: one program is also bin/<build.binary>; several are only their own names", () => {
  const p = (name: string) => ({ importPath: `x/${name}`, dir: name, name });
  expect(binaryNames([p("web")], "shop")).toEqual(["web", "shop"]);
  expect(binaryNames([p("shop")], "shop")).toEqual(["shop"]);
  expect(binaryNames([p("web"), p("worker")], "shop")).toEqual(["web", "worker"]);
});

test("splitJsonStream: go list's objects one after another, braces inside strings included", () => {
  expect(splitJsonStream('{"a":"}{"}\n{"b":{"c":"\\"}"}}\n')).toEqual([{ a: "}{" }, { b: { c: '"}' } }]);
  expect(splitJsonStream("")).toEqual([]);
});

describe("expandPackages with go list", () => {
  requireTool("go");
  const dir = tempModule();
  const spec = (...patterns: string[]) => ({ patterns, source: "build.main" });
  const problems = async (patterns: string[]) => {
    try {
      await expandPackages(dir, spec(...patterns));
    } catch (e) {
      if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
      throw e;
    }
    throw new Error("no error");
  };

  test("./... keeps the main packages only, named as go install names them", async () => {
    const pkgs = await expandPackages(dir, spec("./..."));
    expect(pkgs).toEqual([
      { importPath: "example.com/shop/v2/cmd/web", dir: "cmd/web", name: "web" },
      { importPath: "example.com/shop/v2/cmd/worker", dir: "cmd/worker", name: "worker" },
      { importPath: "example.com/shop/v2/tools/v3", dir: "tools/v3", name: "tools" },
    ]);
  });

  test("the servers' files and the build's tags decide what is a program", async () => {
    const tagged = tempModule();
    mkdirSync(path.join(tagged, "cmd/linuxonly"));
    writeFileSync(path.join(tagged, "cmd/linuxonly/main.go"), `//go:build linux\n\n${MAIN}`);
    mkdirSync(path.join(tagged, "cmd/extra"));
    writeFileSync(path.join(tagged, "cmd/extra/main.go"), `//go:build extra\n\n${MAIN}`);
    expect((await expandPackages(tagged, spec("./cmd/...")).then((p) => p.map((x) => x.name)))).toEqual(["linuxonly", "web", "worker"]);
    expect((await expandPackages(tagged, spec("./cmd/..."), process.env, ["extra"])).map((x) => x.name)).toEqual(["extra", "linuxonly", "web", "worker"]);
  });

  test("a list, in order, each package once", async () => {
    const pkgs = await expandPackages(dir, spec("./cmd/worker", "./cmd/...", "./cmd/web"));
    expect(pkgs.map((p) => p.name)).toEqual(["worker", "web"]);
  });

  test("patterns without a main package, and ones go cannot find, are config problems naming them", async () => {
    expect(await problems(["./lib"])).toEqual(['build.main: "./lib" holds no main package (a Go program: package main with func main)']);
    expect(await problems(["./cmd/...", "./lib/..."])).toEqual(['build.main: "./lib/..." holds no main package (a Go program: package main with func main)']);
    const missing = await problems(["./nope"]);
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatch(/^build\.main: "\.\/nope": .*directory not found/);
    expect(missing[0]).not.toContain(dir); // no temp folder paths in the message
    expect((await problems(["./cmd/zz/..."]))[0]).toContain('"./cmd/zz/..."');
    expect(await problems([])).toEqual(['build.main: no package patterns (e.g. "." or "./cmd/...")']);
  });

  test("a .go file is a program named after it, as go build names it (main.go: main)", async () => {
    const files = tempModule();
    mkdirSync(path.join(files, "cmd/admin"));
    writeFileSync(path.join(files, "cmd/admin/main.go"), MAIN);
    writeFileSync(path.join(files, "cmd/admin/util.go"), "package main\n\nfunc helper() {}\n");
    expect(await expandPackages(files, spec("./cmd/admin/main.go"))).toEqual([{ importPath: "./cmd/admin/main.go", dir: "cmd/admin", name: "main", files: ["./cmd/admin/main.go"] }]);
    expect(await expandPackages(files, spec("./cmd/admin/util.go", "./cmd/admin/main.go"))).toEqual([
      { importPath: "./cmd/admin/util.go ./cmd/admin/main.go", dir: "cmd/admin", name: "util", files: ["./cmd/admin/util.go", "./cmd/admin/main.go"] },
    ]);
  });

  test("a vendored module's programs are found in vendor/, whatever its go line says, with no download", async () => {
    const vendored = vendoredModule();
    const pkgs = await expandPackages(vendored, spec("example.com/dep/cmd/tool", "."), { ...process.env, GOPROXY: "off", GOFLAGS: "" });
    expect(pkgs.map((p) => `${p.importPath} ${p.name}`)).toEqual(["example.com/dep/cmd/tool tool", "example.com/vd vd"]);
  });

  test("flags the spec cannot honour are problems, before go list runs", async () => {
    const err = await expandPackages(dir, { ...parseInstallSpec("-race ./cmd/web"), patterns: ["./cmd/web"], source: "go.mod:4 // +heroku install" }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems.map((p: { message: string }) => p.message)).toEqual([
      "-race has no [build] key in qdeploy; remove it (qdeploy builds with -trimpath -buildvcs=false and [build] tags and ldflags) (packages from go.mod:4 // +heroku install)",
    ]);
  });

  const env = { ...process.env, GO_INSTALL_PACKAGE_SPEC: undefined };
  test("resolveBinaries sets cfg.build.binaries and refuses build.binary with several programs", async () => {
    const cfg: ResolvedConfig = { ...helloConfig, root: dir, vars: {}, build: { ...helloConfig.build, dir, main: "./cmd/..." } };
    await resolveBinaries(cfg, null, env);
    expect(cfg.build.binaries).toEqual(["web", "worker"]);
    const { binaries: _b, ...build } = cfg.build;
    const one: ResolvedConfig = { ...cfg, build: { ...build, main: "./cmd/web" } };
    await resolveBinaries(one, null, env);
    expect(one.build.binaries).toEqual(["web", "hello"]);
    const given = { ...cfg, build: { ...cfg.build, binaryGiven: true } };
    const err = await resolveBinaries(given, null, env).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems[0]!.path).toBe("build.binary");
  });

  // One push lists the packages once: loading the environment expands them as the build
  // would ([env] GOFLAGS included), and the build takes them from the config.
  test("a loaded environment carries its packages, listed as the build lists them; the build runs no second go list", async () => {
    const app = tempModule();
    mkdirSync(path.join(app, "cmd/extra"));
    writeFileSync(path.join(app, "cmd/extra/main.go"), `//go:build extra\n\n${MAIN}`);
    writeFileSync(
      path.join(app, "deploy.toml"),
      'app = "shop"\n[build]\nmain = "./cmd/..."\n[processes]\nworker = "worker"\n[env]\nGOFLAGS = "-tags=extra"\n[environments.prod]\nhosts = ["deploy@203.0.113.10"]\n',
    );
    const local = { GOFLAGS: process.env.GOFLAGS, GO_INSTALL_PACKAGE_SPEC: process.env.GO_INSTALL_PACKAGE_SPEC };
    delete process.env.GOFLAGS;
    delete process.env.GO_INSTALL_PACKAGE_SPEC;
    try {
      const cfg = requireEnvironment("deploy.toml", await loadWithPackages(path.join(app, "deploy.toml"), "prod"));
      const buildEnv = buildEnvironment(process.env, cfg.vars);
      expect(cfg.build.packages).toEqual(await expandPackages(app, packageSpec(cfg.build.main, buildEnv, cfg.vars, null), buildEnv));
      expect(cfg.build.packages!.map((p) => p.name)).toEqual(["extra", "web", "worker"]);
      // Had the build listed them again, cmd/extra would be gone from its answer.
      rmSync(path.join(app, "cmd/extra"), { recursive: true });
      expect((await resolveBinaries(cfg, null, buildEnv)).map((p) => p.name)).toEqual(["extra", "web", "worker"]);
      expect(cfg.build.binaries).toEqual(["extra", "web", "worker"]);
    } finally {
      for (const [k, v] of Object.entries(local)) if (v !== undefined) process.env[k] = v;
    }
  });
});
