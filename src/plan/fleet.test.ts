import { describe, expect, test } from "bun:test";
import type { HostAddress, ResolvedConfig } from "../config/types.ts";
import { helloConfig } from "../../test/fixtures/config.ts";
import { dutyHost, hostConfig, hostProcesses } from "./fleet.ts";

const host = (label: string): HostAddress => ({ user: "d", host: label.slice(2), label });
const [a, b, c] = [host("d@a"), host("d@b"), host("d@c")];

const cleanup = helloConfig.jobs[0]!; // hosts = "one"
const report = { name: "report", command: "hello report", at: "daily", jitterSec: 0, timeoutSec: 60, allHosts: true };

/** a runs web and worker, b web only, c worker only (and the one-host duties: first of worker). */
const fleet: ResolvedConfig = {
  ...helloConfig,
  hosts: [a, b, c],
  roles: { web: ["d@a", "d@b"], worker: ["d@c", "d@a"] },
  jobs: [cleanup, report],
};

describe("hostConfig", () => {
  test("a web host: the web process and Caddy's config, no worker, the all-hosts jobs, its restart slot", () => {
    expect(hostConfig(fleet, b)).toEqual({
      ...fleet,
      processes: { web: "hello serve" },
      scale: {},
      jobs: [report],
      restart: { at: "Sun *-*-* 04:00:00", offsetSec: 300, jitterSec: 150 },
    });
  });

  test("a worker host that is the duty host: the worker, no web, every job", () => {
    expect(dutyHost(fleet)).toBe(c);
    expect(hostConfig(fleet, c)).toEqual({
      ...fleet,
      processes: { worker: "hello work" },
      scale: { worker: 2 },
      web: null,
      jobs: [cleanup, report],
      restart: { at: "Sun *-*-* 04:00:00", offsetSec: 600, jitterSec: 150 },
    });
  });

  test("a host in two roles runs both; the one-host jobs stay on the duty host", () => {
    expect(hostProcesses(fleet, a)).toEqual(["web", "worker"]);
    expect(hostConfig(fleet, a)).toEqual({
      ...fleet,
      scale: { worker: 2 },
      jobs: [report],
      restart: { at: "Sun *-*-* 04:00:00", offsetSec: 0, jitterSec: 150 },
    });
  });

  test("without a worker role the duty host is the first host; without roles every host runs every process", () => {
    expect(dutyHost({ ...fleet, roles: { web: ["d@b", "d@a"], worker: [] } })).toBe(a);
    expect(dutyHost({ ...fleet, roles: { web: ["d@b"] }, hosts: [b] })).toBe(b);
    const two: ResolvedConfig = { ...helloConfig, hosts: [a, b], jobs: [cleanup, report] };
    expect(dutyHost(two)).toBe(a);
    expect([hostProcesses(two, a), hostProcesses(two, b)]).toEqual([["web", "worker"], ["web", "worker"]]);
    expect(hostConfig(two, a).jobs).toEqual([cleanup, report]);
    expect(hostConfig(two, b).jobs).toEqual([report]);
  });

  test("one host (every hosts environment of before): the config as it is, no stagger", () => {
    expect(hostConfig(helloConfig, helloConfig.hosts[0]!)).toEqual(helloConfig);
  });

  test("is pure: the config is unchanged; a host of another environment is a bug", () => {
    const before = structuredClone(fleet);
    hostConfig(fleet, c);
    expect(fleet).toEqual(before);
    expect(() => hostConfig(fleet, host("d@z"))).toThrow("d@z is not a host of hello (sandbox)");
  });
});

describe("restart stagger", () => {
  const restarts = (n: number, jitterSec: number) => {
    const cfg: ResolvedConfig = { ...helloConfig, hosts: [a, b, c].slice(0, n), restart: { at: "daily", jitterSec } };
    return cfg.hosts.map((h) => hostConfig(cfg, h).restart);
  };
  const rows: [number, number, object[]][] = [
    [1, 900, [{ at: "daily", jitterSec: 900 }]],
    [2, 900, [{ at: "daily", offsetSec: 0, jitterSec: 225 }, { at: "daily", offsetSec: 450, jitterSec: 225 }]],
    [3, 900, [0, 300, 600].map((offsetSec) => ({ at: "daily", offsetSec, jitterSec: 150 }))],
    // No jitter: still a minute apart, each within its first 30 s.
    [1, 0, [{ at: "daily", jitterSec: 0 }]],
    [2, 0, [0, 60].map((offsetSec) => ({ at: "daily", offsetSec, jitterSec: 30 }))],
    [3, 0, [0, 60, 120].map((offsetSec) => ({ at: "daily", offsetSec, jitterSec: 30 }))],
  ];
  for (const [n, jitter, want] of rows) {
    test(`n = ${n}, jitter ${jitter}s`, () => expect(restarts(n, jitter)).toEqual(want as never));
  }

  test("windows [offset, offset + jitter) never overlap", () => {
    for (const n of [2, 3, 7]) {
      for (const jitter of [0, 61, 900, 3600]) {
        const cfg: ResolvedConfig = { ...helloConfig, hosts: [..."abcdefg"].slice(0, n).map((x) => host(`d@${x}`)), restart: { at: "daily", jitterSec: jitter } };
        const windows = cfg.hosts.map((h) => hostConfig(cfg, h).restart!);
        for (let i = 1; i < n; i++) expect(windows[i]!.offsetSec!).toBeGreaterThanOrEqual(windows[i - 1]!.offsetSec! + windows[i - 1]!.jitterSec);
      }
    }
  });

  test("without [restart] there is nothing to stagger", () => {
    expect(hostConfig({ ...fleet, restart: null }, b).restart).toBeNull();
  });
});
