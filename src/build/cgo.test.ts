import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { requireTool } from "../../test/tools.ts";
import { cgoListArgs, cgoListEnv, cgoPackages, cgoProblem, parseCgoList } from "./cgo.ts";

const CSUM = 'package csum\n\n// static int add(int a, int b) { return a + b; }\nimport "C"\n\nfunc Add(a, b int) int { return int(C.add(C.int(a), C.int(b))) }\n';

/** A module whose program imports net (the standard library's cgo) and `dep` (C code of its own). */
function cgoModule(dep: string, vendored = false): string {
  const dir = mkdtempSync(path.join(tmpdir(), "qd-cgo-"));
  const put = (p: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    writeFileSync(path.join(dir, p), text);
  };
  put("go.mod", `module example.com/cg\n\ngo 1.13\n${vendored ? `\nrequire ${dep} v1.0.0\n` : ""}`);
  put("main.go", `package main\n\nimport (\n\t"fmt"\n\t"net"\n\n\t"${dep}"\n)\n\nfunc main() { fmt.Println(csum.Add(1, 2), net.IPv4len) }\n`);
  put("tagged/main.go", `//go:build withc\n\npackage main\n\nimport "${dep}"\n\nfunc main() { println(csum.Add(1, 2)) }\n`);
  put("tagged/plain.go", "//go:build !withc\n\npackage main\n\nfunc main() {}\n");
  if (vendored) {
    put(`vendor/${dep}/csum.go`, CSUM);
    put("vendor/modules.txt", `# ${dep} v1.0.0\n${dep}\n`);
  } else put(`${dep.slice("example.com/cg/".length)}/csum.go`, CSUM);
  return dir;
}

describe("the argv, environment and message (pure)", () => {
  test("cgoListArgs: every dependency's cgo files, outside the standard library; the build's tags and vendor/", () => {
    expect(cgoListArgs(["./cmd/web"])).toEqual(["list", "-deps", "-e", "-f", "{{if and (not .Standard) .CgoFiles}}{{.ImportPath}}{{end}}", "--", "./cmd/web"]);
    expect(cgoListArgs(["./a.go"], ["x", "y"], true)).toEqual(["list", "-deps", "-e", "-mod=vendor", "-tags", "x,y", "-f", "{{if and (not .Standard) .CgoFiles}}{{.ImportPath}}{{end}}", "--", "./a.go"]);
  });

  test("cgoListEnv: cgo on (or go hides those files), Linux, never a toolchain download", () => {
    expect(cgoListEnv({ PATH: "/bin", CGO_ENABLED: "0", GOOS: "darwin", UNSET: undefined })).toEqual({ PATH: "/bin", CGO_ENABLED: "1", GOOS: "linux", GOARCH: "amd64", GOTOOLCHAIN: "local" });
  });

  test("parseCgoList: one name a line, blank lines for the others", () => {
    expect(parseCgoList("\n\ngithub.com/mattn/go-sqlite3\n\nexample.com/c\n")).toEqual(["github.com/mattn/go-sqlite3", "example.com/c"]);
  });

  test("cgoProblem names the packages and both ways out", () => {
    expect(cgoProblem(["github.com/mattn/go-sqlite3"])).toBe(
      "github.com/mattn/go-sqlite3 has C code (cgo), which a build with cgo off leaves out, so the program may fail when it runs " +
        "(mattn/go-sqlite3, for one, builds a stub that fails every query). Set cgo = true (qdeploy compiles the C with zig: " +
        "still one static file), or write cgo = false to build without it.",
    );
    expect(cgoProblem(["a/x", "b/y", "c/z"])).toStartWith("a/x, b/y and c/z have C code (cgo)");
  });
});

describe("cgoPackages with go list", () => {
  requireTool("go");
  const env = { ...process.env, GOPROXY: "off", GOFLAGS: "" };

  test("a dependency's C code is found, the standard library's is not", async () => {
    expect(await cgoPackages(cgoModule("example.com/cg/csum"), ["."], env)).toEqual(["example.com/cg/csum"]);
  });

  test("the build's tags decide, as in the build", async () => {
    const dir = cgoModule("example.com/cg/csum");
    expect(await cgoPackages(dir, ["./tagged"], env)).toEqual([]);
    expect(await cgoPackages(dir, ["./tagged"], env, ["withc"])).toEqual(["example.com/cg/csum"]);
  });

  test("a vendored dependency is read from vendor/, with no download", async () => {
    expect(await cgoPackages(cgoModule("example.com/csum", true), ["."], env)).toEqual(["example.com/csum"]);
  });

  test("null when go cannot list the module (a go.mod for a newer Go)", async () => {
    const dir = cgoModule("example.com/cg/csum");
    writeFileSync(path.join(dir, "go.mod"), "module example.com/cg\n\ngo 1.99\n");
    expect(await cgoPackages(dir, ["."], env)).toBeNull();
  });
});
