import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { BuildError } from "../errors.ts";
import { goTarget } from "./arch.ts";
import { requireTool } from "../../test/tools.ts";
import { vendoredModule } from "../../test/fixtures/go-modules.ts";
import { buildBinary, builtPackage, goBuildArgs, goBuildEnv, goLdflags, stampValue, withoutPackageList } from "./go-build.ts";

const EXAMPLE = resolve(import.meta.dir, "../../examples/hello");
const SHA = "0123456789abcdef0123456789abcdef01234567";
const BUILD: ResolvedConfig["build"] = {
  main: "./cmd/hello",
  binary: "hello",
  cgo: false,
  ldflags: "-s -w",
  tags: [],
  stamp: { symbol: "main.version", value: "{git.sha}" },
};
const SLOW = 180_000; // a cold cross-compile of the standard library takes a while

const dirs: string[] = [];
function tempDir(prefix = "qdeploy-build-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A copy of the example app, optionally edited. */
function exampleCopy(edit?: (dir: string) => void): string {
  const d = tempDir("qdeploy-src-");
  cpSync(EXAMPLE, d, { recursive: true });
  edit?.(d);
  return d;
}

const localGo = execFileSync(requireTool("go"), ["env", "GOVERSION"], { encoding: "utf8" }).trim();
const localMinor = /^go(\d+\.\d+)/.exec(localGo)![1]!;
const env = { ...process.env, GOVERSION: undefined };

describe("stamp and argv (pure)", () => {
  test("stampValue", () => {
    expect(stampValue("{git.sha}", SHA)).toBe(SHA);
    expect(stampValue("{git.sha}", SHA, true)).toBe(`${SHA}-dirty`);
    expect(stampValue("{git.sha}", null, true)).toBe("unknown");
    expect(stampValue("v1.2 ({git.sha})", "abc")).toBe("v1.2 (abc)");
    expect(stampValue("fixed", SHA)).toBe("fixed");
  });

  test("goLdflags: the user's flags, an empty build id, the stamp (quoted for go when it has spaces)", () => {
    expect(goLdflags(BUILD, SHA)).toBe(`-s -w -buildid= -X main.version=${SHA}`);
    expect(goLdflags({ ...BUILD, ldflags: "", stamp: null }, SHA)).toBe("-buildid=");
    expect(goLdflags({ ...BUILD, stamp: { symbol: "main.version", value: "v1 {git.sha}" } }, "abc")).toBe(
      "-s -w -buildid= -X 'main.version=v1 abc'",
    );
    expect(goLdflags({ ...BUILD, stamp: { symbol: "main.version", value: "it's {git.sha}" } }, "abc")).toBe(
      `-s -w -buildid= -X "main.version=it's abc"`,
    );
    expect(() => goLdflags({ ...BUILD, stamp: { symbol: "main.v", value: `it's "x" y` } }, "abc")).toThrow(BuildError);
  });

  test("goBuildArgs", () => {
    expect(goBuildArgs(BUILD, "/out/.tmp", SHA)).toEqual([
      "build",
      "-trimpath",
      "-buildvcs=false",
      "-ldflags",
      `-s -w -buildid= -X main.version=${SHA}`,
      "-o",
      "/out/.tmp",
      "./cmd/hello",
    ]);
    expect(goBuildArgs({ ...BUILD, main: ".", tags: ["netgo", "osusergo"], stamp: null }, "o", null)).toEqual([
      "build",
      "-trimpath",
      "-buildvcs=false",
      "-ldflags",
      "-s -w -buildid=",
      "-tags",
      "netgo,osusergo",
      "-o",
      "o",
      ".",
    ]);
    // One main package of several (src/build/packages.ts): the package given, whatever build.main says.
    expect(goBuildArgs({ ...BUILD, main: ["./cmd/..."] }, "o", null, false, "example.com/shop/cmd/web").at(-1)).toBe("example.com/shop/cmd/web");
    expect(goBuildArgs({ ...BUILD, main: ["./cmd/web", "./cmd/worker"] }, "o", null).at(-1)).toBe("./cmd/web");
    // listing the packages it compiles (the terminal's build spinner)
    expect(goBuildArgs(BUILD, "o", null, false, "./cmd/hello", true).slice(0, 3)).toEqual(["build", "-v", "-trimpath"]);
    // .go files (an install line's ./cmd/admin/main.go) are given as files
    expect(goBuildArgs(BUILD, "o", null, false, ["./cmd/admin/main.go", "./cmd/admin/util.go"]).slice(-4)).toEqual(["-o", "o", "./cmd/admin/main.go", "./cmd/admin/util.go"]);
  });

  test("goBuildArgs: vendor/modules.txt means -mod=vendor, whatever the go line says", () => {
    expect(goBuildArgs({ ...BUILD, stamp: null }, "o", null, false, ".", false, true)).toEqual([
      "build",
      "-trimpath",
      "-buildvcs=false",
      "-mod=vendor",
      "-ldflags",
      "-s -w -buildid=",
      "-o",
      "o",
      ".",
    ]);
  });

  test("builtPackage and withoutPackageList: go -v's lines told from go's messages", () => {
    const cases: [string, string | null][] = [
      ["net/http", "net/http"],
      ["internal/abi", "internal/abi"],
      ["example.com/hello/cmd/hello", "example.com/hello/cmd/hello"],
      ["github.com/foo-bar/baz.v2/x_y", "github.com/foo-bar/baz.v2/x_y"],
      ["go: downloading github.com/pkg/errors v0.9.1", "downloading github.com/pkg/errors v0.9.1"],
      ["# example.com/hello/cmd/hello", null],
      ["cmd/hello/main.go:9:15: undefined: undefinedThing", null],
      ["go: finding module for package x", null],
      ["", null],
    ];
    for (const [line, want] of cases) expect(builtPackage(line)).toBe(want);
    expect(withoutPackageList("runtime\nexample.com/m/lib\n# example.com/m/lib\nlib/lib.go:3:9: undefined: nope\n")).toBe(
      "# example.com/m/lib\nlib/lib.go:3:9: undefined: nope\n",
    );
  });

  test("goBuildEnv: the target, no cgo by default, never a toolchain download", () => {
    const base = { PATH: "/bin", HOME: "/h", GOARM: "5", GOFLAGS: "-mod=vendor", UNSET: undefined };
    expect(goBuildEnv(base, BUILD, goTarget("x86_64"))).toEqual({
      PATH: "/bin",
      HOME: "/h",
      GOFLAGS: "-mod=vendor",
      GOOS: "linux",
      GOARCH: "amd64",
      CGO_ENABLED: "0",
      GOTOOLCHAIN: "local",
    });
    expect(goBuildEnv({ GOTOOLCHAIN: "auto" }, BUILD, goTarget("armv7l"))).toEqual({
      GOOS: "linux",
      GOARCH: "arm",
      GOARM: "7",
      CGO_ENABLED: "0",
      GOTOOLCHAIN: "local",
    });
    // cgo = true: zig's CC (src/build/zig.test.ts), never the host's cc
    expect(() => goBuildEnv({}, { ...BUILD, cgo: true }, goTarget("armv7l"))).toThrow("a cgo build without zig");
  });
});

describe("what go build inherits", () => {
  test("goBuildEnv leaves out QDEPLOY_AGE_KEY and any other variable holding an age secret key", () => {
    const base = { PATH: "/bin", QDEPLOY_AGE_KEY: "AGE-SECRET-KEY-1AAA", SOPS_AGE_KEY: "# x\nAGE-SECRET-KEY-1BBB", GOPATH: "/g" };
    expect(goBuildEnv(base, BUILD, goTarget("x86_64"))).toEqual({
      PATH: "/bin",
      GOPATH: "/g",
      GOOS: "linux",
      GOARCH: "amd64",
      CGO_ENABLED: "0",
      GOTOOLCHAIN: "local",
    });
  });

  test("the tools go build runs cannot see QDEPLOY_AGE_KEY", async () => {
    // -toolexec runs each compile and link through a script that records its environment:
    // what go passes on is what it was given.
    const bin = tempDir("qdeploy-toolexec-");
    const dump = join(bin, "env.txt");
    writeFileSync(join(bin, "record"), `#!/bin/sh\nenv >> ${dump}\nexec "$@"\n`, { mode: 0o755 });
    const built = await buildBinary({
      root: exampleCopy(),
      build: BUILD,
      target: goTarget("x86_64"),
      gitSha: SHA,
      outDir: tempDir(),
      env: { ...env, GOFLAGS: `-toolexec=${join(bin, "record")}`, QDEPLOY_AGE_KEY: "AGE-SECRET-KEY-1LEAKCHECK" },
    });
    expect(built.size).toBeGreaterThan(0);
    const seen = readFileSync(dump, "utf8");
    expect(seen).toContain("GOOS=linux");
    expect(seen).not.toContain("QDEPLOY_AGE_KEY");
    expect(seen).not.toContain("LEAKCHECK");
  }, SLOW);
});

/** e_machine from an ELF header (little-endian targets). */
function elfMachine(path: string): number {
  const head = readFileSync(path).subarray(0, 20);
  expect([...head.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]); // \x7fELF
  expect(head[5]).toBe(1); // little-endian
  return head.readUInt16LE(18);
}

describe("buildBinary (real go)", () => {
  const outDir = tempDir();
  const built: Record<string, Awaited<ReturnType<typeof buildBinary>>> = {};

  for (const [uname, machine, fileSays] of [
    ["x86_64", 0x3e, "x86-64"],
    ["aarch64", 0xb7, "ARM aarch64"],
  ] as const) {
    test(
      `cross-compiles the example for ${uname}`,
      async () => {
        const lines: string[] = [];
        const b = await buildBinary({
          root: EXAMPLE,
          build: BUILD,
          target: goTarget(uname),
          gitSha: SHA,
          outDir,
          env,
          log: (l) => lines.push(l),
        });
        built[uname] = b;
        expect(b.path).toBe(join(outDir, b.sha256));
        expect(b.sha256).toMatch(/^[0-9a-f]{64}$/);
        expect(b.size).toBe(readFileSync(b.path).length);
        expect(b.goVersion).toBe(localGo);
        expect(b.seconds).toBeGreaterThan(0);
        expect(elfMachine(b.path)).toBe(machine);
        // `file` is a second opinion on the ELF header; missing, the test fails naming it.
        const f = execFileSync(requireTool("file"), ["-b", b.path], { encoding: "utf8" });
        expect(f).toContain("ELF 64-bit LSB");
        expect(f).toContain(fileSays);
        expect(f).toContain("statically linked");
        expect(lines[0]).toStartWith(`linux/${goTarget(uname).goarch}: go build -trimpath -buildvcs=false -ldflags`);
        expect(lines.at(-1)).toContain(`built ${b.sha256.slice(0, 12)}`);
        // only the artifact is left behind: the temp file was renamed
        expect(readdirSync(outDir).filter((f) => f.startsWith("."))).toEqual([]);
      },
      SLOW,
    );
  }

  test(
    "the stamp is in the binary: `hello version` prints the sha",
    () => {
      const mine = process.arch === "arm64" ? "aarch64" : "x86_64";
      const b = built[mine];
      expect(b).toBeDefined();
      expect(execFileSync(b!.path, ["version"], { encoding: "utf8" })).toBe(`${SHA}\n`);
    },
    SLOW,
  );

  test(
    "the same source gives the same sha256, from another folder and another outDir",
    async () => {
      const a = built["x86_64"]!;
      const again = await buildBinary({
        root: exampleCopy(),
        build: BUILD,
        target: goTarget("amd64"),
        gitSha: SHA,
        outDir: tempDir(),
        env,
      });
      expect(again.sha256).toBe(a.sha256);
      expect(again.size).toBe(a.size);
    },
    SLOW,
  );

  test(
    "another stamp gives another binary; -dirty is stamped",
    async () => {
      const b = await buildBinary({
        root: EXAMPLE,
        build: BUILD,
        target: goTarget(process.arch === "arm64" ? "aarch64" : "x86_64"),
        gitSha: SHA,
        dirty: true,
        outDir: tempDir(),
        env,
      });
      expect(b.sha256).not.toBe(built[process.arch === "arm64" ? "aarch64" : "x86_64"]!.sha256);
      expect(execFileSync(b.path, ["version"], { encoding: "utf8" })).toBe(`${SHA}-dirty\n`);
    },
    SLOW,
  );

  test(
    "a broken Go file: BuildError with go's own file:line text, and no temp file left",
    async () => {
      const root = exampleCopy((d) => {
        const f = join(d, "cmd/hello/main.go");
        writeFileSync(f, readFileSync(f, "utf8").replace('var version = "dev"', 'var version = undefinedThing + "dev"'));
      });
      const out = tempDir();
      const err = await buildBinary({ root, build: BUILD, target: goTarget("x86_64"), gitSha: null, outDir: out, env }).catch(
        (e) => e,
      );
      expect(err).toBeInstanceOf(BuildError);
      expect(err.message).toStartWith("go build failed for linux/amd64\n");
      expect(err.message).toMatch(/cmd\/hello\/main\.go:\d+:\d+: undefined: undefinedThing/);
      expect(err.output).toContain("undefined: undefinedThing");
      expect(readdirSync(out)).toEqual([]);
    },
    SLOW,
  );

  test("a go.mod asking for go 1.99 fails the toolchain check before building", async () => {
    const root = exampleCopy((d) => writeFileSync(join(d, "go.mod"), "module example.com/hello\n\ngo 1.99\n"));
    const out = join(tempDir(), "out");
    const err = await buildBinary({ root, build: BUILD, target: goTarget("x86_64"), gitSha: null, outDir: out, env }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(BuildError);
    expect(err.message).toBe(
      `wrong Go version for ${root}\n` +
        `go.mod:3 go asks for Go 1.99 or newer, but the local Go is ${localGo}. qdeploy fetches a Go only for a pin ` +
        "(build.go, goVersion, GOVERSION), not for this line: install Go 1.99 or newer (https://go.dev/dl/) and put it first on PATH, " +
        "or set [build] go = \"go1.99\" to have qdeploy fetch that Go, " +
        "or lower the go line in go.mod if the module does not need go1.99.",
    );
    expect(existsSync(out)).toBe(false); // nothing was built
  });

  test("the go line stays a floor even when GOVERSION matches the local Go", async () => {
    const root = exampleCopy((d) => writeFileSync(join(d, "go.mod"), "module example.com/hello\n\ngo 1.99\n"));
    const err = await buildBinary({
      root,
      build: BUILD,
      target: goTarget("x86_64"),
      gitSha: null,
      outDir: tempDir(),
      env: { ...env, GOVERSION: `go${localMinor}` },
    }).catch((e) => e);
    expect(err).toBeInstanceOf(BuildError);
    expect(err.message).toMatch(/GOVERSION go1\.\d+ is older than go\.mod:3 go 1\.99, which wins: go\.mod:3 go asks for Go 1\.99 or newer/);
  });

  test("GOVERSION naming another line builds with that line's newest release (fetched); a heroku directive naming ours builds", async () => {
    const old = await buildBinary({
      root: EXAMPLE,
      build: BUILD,
      target: goTarget("x86_64"),
      gitSha: null,
      outDir: tempDir(),
      env: { ...env, GOVERSION: "go1.22" },
    });
    // go1.22.12 is the last 1.22 release; the binary itself says which Go built it.
    expect(old.goVersion).toBe("go1.22.12");
    expect(Bun.spawnSync(["go", "version", old.path]).stdout.toString()).toContain(": go1.22.12\n");

    const root = exampleCopy((d) =>
      writeFileSync(join(d, "go.mod"), `// +heroku goVersion go${localMinor}\nmodule example.com/hello\n\ngo 1.22\n`),
    );
    const ok = await buildBinary({ root, build: BUILD, target: goTarget("x86_64"), gitSha: null, outDir: tempDir(), env });
    expect(ok.sha256).toMatch(/^[0-9a-f]{64}$/);
  }, SLOW);

  test(
    "onPackage: the packages go compiles, as it goes; a failure's output without them",
    async () => {
      // A module of its own with a fresh constant, so no build cache has its packages.
      const root = tempDir("qdeploy-pkgs-");
      const nonce = `${Date.now()}${Math.random()}`;
      writeFileSync(join(root, "go.mod"), "module example.com/m\n\ngo 1.22\n");
      execFileSync("mkdir", ["-p", join(root, "lib"), join(root, "cmd/m")]);
      writeFileSync(join(root, "lib/lib.go"), `package lib\n\nconst Nonce = "${nonce}"\n`);
      writeFileSync(join(root, "cmd/m/main.go"), `package main\n\nimport "example.com/m/lib"\n\nfunc main() { println(lib.Nonce) }\n`);
      const build = { ...BUILD, main: "./cmd/m", binary: "m", stamp: null };
      const seen: string[] = [];
      const b = await buildBinary({ root, build, target: goTarget("x86_64"), gitSha: null, outDir: tempDir(), env, onPackage: (p) => seen.push(p) });
      expect(seen).toContain("example.com/m/lib");
      expect(seen).toContain("example.com/m/cmd/m");
      expect(seen.indexOf("example.com/m/lib")).toBeLessThan(seen.indexOf("example.com/m/cmd/m"));
      expect(b.size).toBeGreaterThan(0);

      writeFileSync(join(root, "lib/lib.go"), `package lib\n\nconst Nonce = nope + "${nonce}"\n`);
      const err = await buildBinary({ root, build, target: goTarget("x86_64"), gitSha: null, outDir: tempDir(), env, onPackage: () => {} }).catch((e) => e);
      expect(err).toBeInstanceOf(BuildError);
      expect(err.output).toMatch(/^# example\.com\/m\/lib\n.*lib\.go:3:\d+: undefined: nope/m);
      expect(err.output).not.toMatch(/^example\.com\/m\/lib$/m);
    },
    SLOW,
  );

  test("a vendored module builds from vendor/ with no download, though its go line (1.13) predates go's vendor default", async () => {
    const root = vendoredModule();
    const b = await buildBinary({ root, build: { ...BUILD, main: ".", stamp: null }, target: goTarget("x86_64"), gitSha: null, outDir: tempDir(), env: { ...env, GOPROXY: "off", GOFLAGS: "" } });
    expect(execFileSync(b.path, { encoding: "utf8" })).toBe("vendored\n");
  }, SLOW);

  test("a .go file from an install line builds like go build FILE", async () => {
    const root = exampleCopy();
    const files = execFileSync("sh", ["-c", "ls cmd/hello/*.go"], { cwd: root, encoding: "utf8" }).trim().split("\n").map((f) => `./${f}`);
    const b = await buildBinary({ root, build: { ...BUILD, stamp: null }, pkg: files, target: goTarget("x86_64"), gitSha: null, outDir: tempDir(), env });
    expect(b.size).toBeGreaterThan(0);
  }, SLOW);

  test("build.go pins the Go like GOVERSION, and above it; the note says when a pin gives way", async () => {
    const root = exampleCopy((d) => writeFileSync(join(d, "go.mod"), "module example.com/hello\n\ngo 1.99\n"));
    const err = await buildBinary({ root, build: { ...BUILD, go: "go1.22" }, target: goTarget("x86_64"), gitSha: null, outDir: tempDir(), env: { ...env, GOVERSION: "go1.99" } }).catch((e) => e);
    expect(err).toBeInstanceOf(BuildError);
    expect(err.message).toStartWith(`wrong Go version for ${root}\nbuild.go go1.22 is older than go.mod:3 go 1.99, which wins: go.mod:3 go asks for Go 1.99 or newer`);
  });

  test.each([
    // Real Heroku apps' pins: no toolchain module exists before Go 1.21, so the local Go builds them, and says so.
    ["// +heroku goVersion go1.14\nmodule example.com/hello\n\ngo 1.14\n", `go.mod:1 // +heroku goVersion go1.14: Go releases before 1.21 are not published as toolchain modules; building with the local ${localGo}, which builds go1.14 code by Go's compatibility promise`],
    ["module example.com/hello\n\n// +heroku goVersion go1.16\ngo 1.23\n", `go.mod:3 // +heroku goVersion go1.16 is older than go.mod:4 go 1.23, which wins: building with the local ${localGo}`],
  ])("an old pin builds with the local Go, in one line: %s", async (goMod, note) => {
    const root = tempDir("qdeploy-old-");
    writeFileSync(join(root, "go.mod"), goMod);
    // Code of that era: interface{}, ioutil (deprecated, still there, as Go's promise says).
    writeFileSync(join(root, "main.go"), 'package main\n\nimport (\n\t"fmt"\n\t"io/ioutil"\n)\n\nfunc main() {\n\tvar v interface{} = "old"\n\tb, _ := ioutil.ReadAll(nil_reader{})\n\tfmt.Println(v, len(b))\n}\n\ntype nil_reader struct{}\n\nfunc (nil_reader) Read(p []byte) (int, error) { return 0, fmt.Errorf("EOF") }\n');
    const lines: string[] = [];
    const b = await buildBinary({ root, build: { ...BUILD, main: "." }, target: goTarget("x86_64"), gitSha: null, outDir: tempDir(), env, progress: (l) => lines.push(l) });
    expect(b.goVersion).toBe(localGo);
    expect(lines).toEqual([note]);
    expect(execFileSync(b.path, { encoding: "utf8" })).toBe("old 0\n");
  }, SLOW);

  test("no go.mod: a BuildError that says so", async () => {
    const root = tempDir();
    const err = await buildBinary({ root, build: BUILD, target: goTarget("x86_64"), gitSha: null, outDir: tempDir(), env }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(BuildError);
    expect(err.message).toStartWith(`no go.mod in ${root}`);
  });
});
