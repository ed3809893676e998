import { describe, expect, test } from "bun:test";
import { notRunYet, parseStatus } from "./switch-status.ts";

describe("parseStatus", () => {
  test("units with their usage lines: memory against MemoryMax, CPU time against the quota, restarts", () => {
    const s = parseStatus(
      [
        "live=20261205120000",
        "slot=8001",
        "unit=hello-web@8001.service active running",
        "unit=hello-worker@1.service active running",
        "unit=hello-restart.timer active waiting",
        "usage=hello-web@8001.service 12582912 infinity 420000000 infinity 0",
        "usage=hello-worker@1.service 60817408 67108864 1500000000 1.500000s 3",
        "health=ok",
      ].join("\n"),
    );
    expect(s.units).toEqual([
      { unit: "hello-web@8001.service", active: "active", sub: "running", usage: { memoryBytes: 12582912, memoryMaxBytes: null, cpuSeconds: 0.42, cpuQuota: null, restarts: 0 } },
      { unit: "hello-worker@1.service", active: "active", sub: "running", usage: { memoryBytes: 60817408, memoryMaxBytes: 67108864, cpuSeconds: 1.5, cpuQuota: 1.5, restarts: 3 } },
      { unit: "hello-restart.timer", active: "active", sub: "waiting" },
    ]);
  });

  test("a stopped service's last run: its result, when it ended, its exit status", () => {
    const s = parseStatus(["unit=hello-job-cleanup.service inactive dead", "lastrun=hello-job-cleanup.service exit-code 1796475261 2"].join("\n"));
    expect(s.units[0]!.lastRun).toEqual({ result: "exit-code", at: new Date(1796475261 * 1000).toISOString(), exitStatus: 2 });
  });

  test("a timer's service that never ran is not run yet, not down; a process that stopped is down", () => {
    const s = parseStatus(["unit=hello-job-cleanup.service inactive dead", "unit=hello-job-cleanup.timer active waiting", "unit=hello-worker@1.service inactive dead"].join("\n"));
    expect(s.units.map((u) => notRunYet(u, s.units))).toEqual([true, false, false]);
  });

  test("web.watchdog's restarts: how many and when the last was", () => {
    expect(parseStatus("watchdog=2 1796472000").watchdog).toEqual({ restarts: 2, last: "2026-12-05T12:00:00.000Z" });
    expect(parseStatus("live=1").watchdog).toBeNull();
  });

  test("what systemd does not know stays null; a quota under a second per second is a fraction", () => {
    const s = parseStatus(["unit=a.service active running", "usage=a.service - infinity - 500ms 0"].join("\n"));
    expect(s.units[0]!.usage).toEqual({ memoryBytes: null, memoryMaxBytes: null, cpuSeconds: null, cpuQuota: 0.5, restarts: 0 });
  });
});
