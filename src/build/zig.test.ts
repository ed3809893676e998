import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { BuildError, OperationError } from "../errors.ts";
import { requireTool } from "../../test/tools.ts";
import { goTarget } from "./arch.ts";
import { buildBinary, goBuildArgs, goBuildEnv, goLdflags } from "./go-build.ts";
import { cgoLdflags, ensureZig, ZIG_VERSION, zigCgoEnv, zigDir, zigTargetFlags, zigToolchain, zigWheel } from "./zig.ts";

const BUILD: ResolvedConfig["build"] = {
  main: ".",
  binary: "cgohello",
  cgo: true,
  ldflags: "-s -w",
  tags: [],
  stamp: { symbol: "main.version", value: "{git.sha}" },
};
const ZIG = zigToolchain("/c/qdeploy/zig/0.15.2");
const SLOW = 300_000; // a cold cgo build compiles runtime/cgo and musl with zig for each target

const dirs: string[] = [];
function tempDir(prefix = "qdeploy-zig-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("zig's flags and environment (pure)", () => {
  test("zigTargetFlags: Go target -> zig's musl target, per CPU", () => {
    expect(zigTargetFlags(goTarget("x86_64"))).toEqual(["-target", "x86_64-linux-musl"]);
    expect(zigTargetFlags(goTarget("aarch64"))).toEqual(["-target", "aarch64-linux-musl"]);
    expect(zigTargetFlags(goTarget("armv7l"))).toEqual(["-target", "arm-linux-musleabihf", "-mcpu=generic+v7a"]);
    expect(zigTargetFlags(goTarget("armv8l"))).toEqual(["-target", "arm-linux-musleabihf", "-mcpu=generic+v7a"]);
    expect(zigTargetFlags(goTarget("armv6l"))).toEqual(["-target", "arm-linux-musleabihf", "-mcpu=arm1176jzf_s"]);
    expect(zigTargetFlags(goTarget("i686"))).toEqual(["-target", "x86-linux-musl"]);
    expect(zigTargetFlags(goTarget("riscv64"))).toEqual(["-target", "riscv64-linux-musl"]);
  });

  test("zigTargetFlags: a target without a tested static cgo build is a clear BuildError", () => {
    for (const m of ["s390x", "ppc64le", "loongarch64"]) {
      expect(() => zigTargetFlags(goTarget(m))).toThrow(BuildError);
    }
    expect(() => zigTargetFlags(goTarget("s390x"))).toThrow(
      "cgo = true cannot build for linux/s390x: qdeploy's zig cc builds cgo apps for linux/amd64, linux/arm64, " +
        "linux/arm/v7, linux/arm/v6, linux/386, linux/riscv64. Set [build] cgo = false (pure Go) for this host",
    );
  });

  test("zigCgoEnv: CC/CXX are zig for the target, zig's caches in its own folder", () => {
    expect(zigCgoEnv(ZIG, goTarget("x86_64"))).toEqual({
      CGO_ENABLED: "1",
      CC: "/c/qdeploy/zig/0.15.2/ziglang/zig cc -target x86_64-linux-musl",
      CXX: "/c/qdeploy/zig/0.15.2/ziglang/zig c++ -target x86_64-linux-musl",
      CGO_CFLAGS: "-O2 -g -D_LARGEFILE64_SOURCE",
      CGO_CXXFLAGS: "-O2 -g -D_LARGEFILE64_SOURCE",
      ZIG_GLOBAL_CACHE_DIR: "/c/qdeploy/zig/0.15.2/cache/global",
      ZIG_LOCAL_CACHE_DIR: "/c/qdeploy/zig/0.15.2/cache/local",
    });
    expect(zigCgoEnv(ZIG, goTarget("armv6l")).CC).toBe(
      "/c/qdeploy/zig/0.15.2/ziglang/zig cc -target arm-linux-musleabihf -mcpu=arm1176jzf_s",
    );
    // go splits CC into words itself ('...' quoting, cmd/internal/quoted)
    const spaced = zigToolchain("/home/a b/.cache/qdeploy/zig/0.15.2");
    expect(zigCgoEnv(spaced, goTarget("aarch64")).CC).toBe(
      "'/home/a b/.cache/qdeploy/zig/0.15.2/ziglang/zig' cc -target aarch64-linux-musl",
    );
  });

  test("zigCgoEnv: the user's CGO_CFLAGS/CGO_CXXFLAGS come after qdeploy's (-O2: no UBSan traps; musl's pread64), not instead", () => {
    const env = zigCgoEnv(ZIG, goTarget("aarch64"), { CGO_CFLAGS: "-DSQLITE_ENABLE_FTS5 -O3", CGO_CXXFLAGS: " ", CGO_LDFLAGS: "-lm" });
    expect([env.CGO_CFLAGS, env.CGO_CXXFLAGS, "CGO_LDFLAGS" in env]).toEqual(["-O2 -g -D_LARGEFILE64_SOURCE -DSQLITE_ENABLE_FTS5 -O3", "-O2 -g -D_LARGEFILE64_SOURCE", false]);
  });

  test("cgoLdflags: external static link; the user's -s reaches zig's linker", () => {
    expect(cgoLdflags("-s -w")).toEqual(["-linkmode", "external", "-extldflags", "'-static -s'"]);
    expect(cgoLdflags("")).toEqual(["-linkmode", "external", "-extldflags", "-static"]);
    expect(cgoLdflags("-w -X a=-s")).toEqual(["-linkmode", "external", "-extldflags", "-static"]);
  });

  test("zigDir: the per-user cache, per version", () => {
    expect(zigDir({ HOME: "/home/u" })).toBe(`/home/u/.cache/qdeploy/zig/${ZIG_VERSION}`);
    expect(zigDir({ HOME: "/home/u", XDG_CACHE_HOME: "/x" })).toBe(`/x/qdeploy/zig/${ZIG_VERSION}`);
    expect(zigToolchain("/x/qdeploy/zig/0.15.2")).toEqual({ version: ZIG_VERSION, dir: "/x/qdeploy/zig/0.15.2", zig: "/x/qdeploy/zig/0.15.2/ziglang/zig" });
  });

  test("zigWheel: pinned per machine; none for another OS", () => {
    expect(zigWheel("linux", "x64")).toEqual({
      filename: "ziglang-0.15.2-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl",
      sha256: "806316453d1ede7174ed3fefb8e5348154629089c3bb5fe812dfd0e172fac130",
      size: 93508126,
    });
    expect(zigWheel("linux", "arm64").filename).toContain("aarch64");
    expect(() => zigWheel("freebsd", "x64")).toThrow(OperationError);
  });
});

describe("goBuildEnv and goBuildArgs with cgo (pure)", () => {
  test("goBuildEnv: cgo = true sets zig's CC for the target; false leaves CGO_ENABLED=0 and no CC", () => {
    expect(goBuildEnv({ PATH: "/bin", CC: "gcc", CGO_CFLAGS: "-DX=1" }, BUILD, goTarget("aarch64"), ZIG)).toEqual({
      PATH: "/bin",
      GOOS: "linux",
      GOARCH: "arm64",
      CGO_ENABLED: "1",
      CC: "/c/qdeploy/zig/0.15.2/ziglang/zig cc -target aarch64-linux-musl",
      CXX: "/c/qdeploy/zig/0.15.2/ziglang/zig c++ -target aarch64-linux-musl",
      CGO_CFLAGS: "-O2 -g -D_LARGEFILE64_SOURCE -DX=1",
      CGO_CXXFLAGS: "-O2 -g -D_LARGEFILE64_SOURCE",
      ZIG_GLOBAL_CACHE_DIR: "/c/qdeploy/zig/0.15.2/cache/global",
      ZIG_LOCAL_CACHE_DIR: "/c/qdeploy/zig/0.15.2/cache/local",
      GOTOOLCHAIN: "local",
    });
    expect(goBuildEnv({ PATH: "/bin", CGO_CFLAGS: "-DX=1" }, { ...BUILD, cgo: false }, goTarget("aarch64"), ZIG)).toEqual({
      PATH: "/bin",
      CGO_CFLAGS: "-DX=1",
      GOOS: "linux",
      GOARCH: "arm64",
      CGO_ENABLED: "0",
      GOTOOLCHAIN: "local",
    });
  });

  test("goLdflags/goBuildArgs: cgo puts the static external link before the user's flags", () => {
    const sha = "abc";
    expect(goLdflags(BUILD, sha)).toBe("-linkmode external -extldflags '-static -s' -s -w -buildid= -X main.version=abc");
    expect(goLdflags({ ...BUILD, ldflags: "", stamp: null }, sha)).toBe("-linkmode external -extldflags -static -buildid=");
    expect(goBuildArgs(BUILD, "/o", sha)).toEqual([
      "build",
      "-trimpath",
      "-buildvcs=false",
      "-ldflags",
      "-linkmode external -extldflags '-static -s' -s -w -buildid= -X main.version=abc",
      "-o",
      "/o",
      ".",
    ]);
  });
});

describe("ensureZig refuses bytes that are not the pinned wheel", () => {
  // A local stand-in for PyPI's JSON API and file host.
  function fakeIndex(listed: string, bytes: Uint8Array) {
    const wheel = zigWheel();
    return Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === `/pypi/ziglang/json`) {
          const file = { filename: wheel.filename, url: `../../files/${wheel.filename}`, digests: { sha256: listed } };
          return Response.json({ releases: { [ZIG_VERSION]: [file] } });
        }
        if (path === `/files/${wheel.filename}`) return new Response(bytes);
        return new Response("", { status: 404 }); // like this machine's mirror: no per-version page
      },
    });
  }

  test("an index listing another sha256 is refused before any download", async () => {
    const server = fakeIndex("0".repeat(64), new Uint8Array(10));
    const cache = tempDir();
    try {
      const err = await ensureZig({ env: { XDG_CACHE_HOME: cache }, index: `http://127.0.0.1:${server.port}/pypi` }).catch((e) => e);
      expect(err).toBeInstanceOf(OperationError);
      expect(err.message).toBe(
        `PyPI lists ${zigWheel().filename} with sha256 ${"0".repeat(64)}, not the pinned ${zigWheel().sha256}: not installing it`,
      );
    } finally {
      server.stop(true);
    }
  });

  test("a download whose bytes differ is refused, and nothing is installed", async () => {
    const server = fakeIndex(zigWheel().sha256, new TextEncoder().encode("not a wheel"));
    const cache = tempDir();
    const lines: string[] = [];
    try {
      const err = await ensureZig({
        env: { XDG_CACHE_HOME: cache },
        index: `http://127.0.0.1:${server.port}/pypi`,
        log: (l) => lines.push(l),
      }).catch((e) => e);
      expect(err).toBeInstanceOf(OperationError);
      expect(err.message).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/ziglang-0\.15\.2-.*\.whl has sha256 [0-9a-f]{64}, not the pinned /);
      expect(lines[0]).toBe(`downloading zig ${ZIG_VERSION} for cgo (${(zigWheel().size / 1e6).toFixed(1)} MB, once; ${zigDir({ XDG_CACHE_HOME: cache })})...`);
      expect(execFileSync("find", [cache, "-mindepth", "4"], { encoding: "utf8" })).toBe(""); // no ziglang/, no temp folder
    } finally {
      server.stop(true);
    }
  });
});

describe("buildBinary with cgo = true (real go, real zig from PyPI)", () => {
  // C from cgo's preamble: a libc call (snprintf, strlen), a static inline function, and
  // the standard library's own cgo (net's getaddrinfo), which needs the external link.
  const MAIN = `package main

/*
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static inline int add(int a, int b) { return a + b; }
static int greet(char *buf, size_t n, const char *who) { return snprintf(buf, n, "hello, %s", who); }
*/
import "C"

import (
	"fmt"
	"net"
	"unsafe"
)

var version = "dev"

func main() {
	buf := (*C.char)(C.malloc(64))
	defer C.free(unsafe.Pointer(buf))
	who := C.CString("cgo")
	defer C.free(unsafe.Pointer(who))
	C.greet(buf, 64, who)
	addrs, err := net.LookupHost("localhost")
	fmt.Println(C.GoString(buf), int(C.add(40, 2)), int(C.strlen(buf)), len(addrs) > 0, err, version)
}
`;
  const root = tempDir("qdeploy-cgo-src-");
  writeFileSync(join(root, "go.mod"), "module example.com/cgohello\n\ngo 1.22\n");
  writeFileSync(join(root, "main.go"), MAIN);
  const outDir = tempDir();
  const built: Record<string, Awaited<ReturnType<typeof buildBinary>>> = {};

  for (const [uname, fileSays] of [
    ["x86_64", "ELF 64-bit LSB executable, x86-64"],
    ["aarch64", "ELF 64-bit LSB executable, ARM aarch64"],
  ] as const) {
    test(
      `a cgo program for ${uname} is one static file`,
      async () => {
        const lines: string[] = [];
        const b = await buildBinary({
          root,
          build: BUILD,
          target: goTarget(uname),
          gitSha: "abc123",
          outDir,
          env: { ...process.env, GOVERSION: undefined },
          log: (l) => lines.push(l),
        });
        built[uname] = b;
        console.log(`cgo ${uname}: built in ${b.seconds.toFixed(1)}s, ${b.size} bytes`);
        const f = execFileSync(requireTool("file"), ["-b", b.path], { encoding: "utf8" });
        expect(f).toStartWith(fileSays);
        expect(f).toContain("statically linked");
        expect(f).toContain("stripped"); // the user's -s reached zig
        expect(f).not.toContain("dynamically");
        expect(f).not.toContain("interpreter");
        const cmd = lines.find((l) => l.includes(": go build"))!;
        expect(cmd).toContain(`CGO_ENABLED=1, zig ${ZIG_VERSION}: CC=`);
        expect(cmd).toContain(zigTargetFlags(goTarget(uname)).join(" "));
      },
      SLOW,
    );
  }

  test(
    "the amd64 one runs: C's output, the stamp, and the resolver through musl",
    () => {
      const b = built["x86_64"];
      expect(b).toBeDefined();
      expect(execFileSync(b!.path, { encoding: "utf8" })).toBe("hello, cgo 42 10 true <nil> abc123\n");
    },
    SLOW,
  );

  test(
    "the same source builds to the same bytes from another folder",
    async () => {
      const copy = tempDir("qdeploy-cgo-src-");
      for (const f of ["go.mod", "main.go"]) writeFileSync(join(copy, f), readFileSync(join(root, f)));
      const again = await buildBinary({ root: copy, build: BUILD, target: goTarget("x86_64"), gitSha: "abc123", outDir: tempDir(), env: { ...process.env, GOVERSION: undefined } });
      expect(again.sha256).toBe(built["x86_64"]!.sha256);
    },
    SLOW,
  );

  test("a target zig cannot do fails before any download or build", async () => {
    const cache = tempDir();
    mkdirSync(join(cache, "x"));
    const err = await buildBinary({ root, build: BUILD, target: goTarget("s390x"), gitSha: null, outDir: tempDir(), env: { ...process.env, XDG_CACHE_HOME: cache } }).catch((e) => e);
    expect(err).toBeInstanceOf(BuildError);
    expect(err.message).toStartWith("cgo = true cannot build for linux/s390x");
    expect(execFileSync("ls", [cache], { encoding: "utf8" })).toBe("x\n");
  });
});
