import { expect, test } from "bun:test";
import { describeLastRun, describeUsage } from "../remote/switch-status.ts";
import { describeBinaries } from "./inspect.ts";
import { formatMemory } from "../util/bytes.ts";

test("releases: one sha256 for one binary (and older releases), each name's for several", () => {
  const [a, b] = ["a".repeat(64), "b".repeat(64)];
  expect(describeBinaries({ sha256: a })).toBe("sha256 aaaaaaaaaaaa");
  expect(describeBinaries({ sha256: a, binaries: { hello: a } })).toBe("sha256 aaaaaaaaaaaa");
  expect(describeBinaries({ sha256: a, binaries: { web: a, hello: a } })).toBe("sha256 aaaaaaaaaaaa");
  expect(describeBinaries({ sha256: a, binaries: { web: a, worker: b } })).toBe("web aaaaaaaaaaaa, worker bbbbbbbbbbbb");
});

test("describeUsage: memory in 1024s against its limit, CPU time and quota, restarts when there were any", () => {
  expect(describeUsage({ memoryBytes: 12_345_678, memoryMaxBytes: 64 * 1024 ** 2, cpuSeconds: 0.42, cpuQuota: 1.5, restarts: 3 })).toBe(
    "memory 11.8M of 64M, cpu 0.4 s (at most 1.5 CPUs), 3 restarts",
  );
  expect(describeUsage({ memoryBytes: 1536 * 1024 ** 2, memoryMaxBytes: null, cpuSeconds: 2, cpuQuota: 1, restarts: 0 })).toBe("memory 1.5G, cpu 2.0 s (at most 1 CPU)");
  expect(describeUsage({ memoryBytes: null, memoryMaxBytes: null, cpuSeconds: null, cpuQuota: null, restarts: 1 })).toBe("1 restart");
  expect(formatMemory(512)).toBe("0.5K");
});

test("describeLastRun: a stopped one-shot service by how it last ended", () => {
  expect(describeLastRun({ result: "success", at: "2026-12-05T12:00:01.000Z", exitStatus: 0 })).toBe("last run 2026-12-05T12:00:01Z: success");
  expect(describeLastRun({ result: "exit-code", at: "2026-12-05T12:00:01.000Z", exitStatus: 2 })).toBe("last run 2026-12-05T12:00:01Z: failed (exit-code, status 2)");
});
