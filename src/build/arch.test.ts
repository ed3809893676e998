import { describe, expect, test } from "bun:test";
import { OperationError } from "../errors.ts";
import { goTarget, platformName, type GoTarget } from "./arch.ts";

describe("goTarget", () => {
  const cases: [string, GoTarget, string][] = [
    ["x86_64", { goos: "linux", goarch: "amd64" }, "linux/amd64"],
    ["amd64", { goos: "linux", goarch: "amd64" }, "linux/amd64"],
    ["aarch64", { goos: "linux", goarch: "arm64" }, "linux/arm64"],
    ["arm64", { goos: "linux", goarch: "arm64" }, "linux/arm64"],
    ["armv7l", { goos: "linux", goarch: "arm", goarm: "7" }, "linux/arm/v7"],
    ["armv8l", { goos: "linux", goarch: "arm", goarm: "7" }, "linux/arm/v7"],
    ["armv6l", { goos: "linux", goarch: "arm", goarm: "6" }, "linux/arm/v6"],
    ["i686", { goos: "linux", goarch: "386" }, "linux/386"],
    ["i386", { goos: "linux", goarch: "386" }, "linux/386"],
    ["riscv64", { goos: "linux", goarch: "riscv64" }, "linux/riscv64"],
    ["ppc64le", { goos: "linux", goarch: "ppc64le" }, "linux/ppc64le"],
    ["s390x", { goos: "linux", goarch: "s390x" }, "linux/s390x"],
    ["loongarch64", { goos: "linux", goarch: "loong64" }, "linux/loong64"],
    ["x86_64\n", { goos: "linux", goarch: "amd64" }, "linux/amd64"], // straight from ssh stdout
    [" AArch64 ", { goos: "linux", goarch: "arm64" }, "linux/arm64"],
  ];
  for (const [uname, want, platform] of cases) {
    test(JSON.stringify(uname), () => {
      expect(goTarget(uname)).toEqual(want);
      expect(platformName(goTarget(uname))).toBe(platform);
    });
  }

  for (const bad of ["sparc64", "mips", "", "constructor", "__proto__"]) {
    test(`unknown ${JSON.stringify(bad)} throws, naming the value`, () => {
      expect(() => goTarget(bad)).toThrow(OperationError);
      expect(() => goTarget(bad)).toThrow(`unsupported CPU architecture ${JSON.stringify(bad)} (from \`uname -m\` on the host)`);
    });
  }
});
