import { expect, test } from "bun:test";
import { sandboxPlatformProblem } from "./host-tools.ts";

test("the sandbox says plainly that it needs Linux with QEMU, and what to do instead", () => {
  expect(sandboxPlatformProblem("linux")).toBeNull();
  const mac = sandboxPlatformProblem("darwin")!;
  expect(mac).toStartWith("the sandbox needs Linux with QEMU");
  expect(mac).toContain("this is darwin");
  expect(mac).toContain("push to a real server");
});
