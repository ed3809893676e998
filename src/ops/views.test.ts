import { describe, expect, test } from "bun:test";
import { helloConfig } from "../../test/fixtures/config.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { UsageError } from "../errors.ts";
import { mergeReleases } from "./releases.ts";
import { selectHosts } from "./sessions.ts";
import { findDrift } from "./status.ts";

const rel = (id: string, live = false, activated = true) => ({ id, created: "c", git: null, sha256: "s", by: "me", configDigest: "d", activated, live });

describe("mergeReleases", () => {
  test("one row per id, with the hosts that have it, run it and would roll back to it", () => {
    const m = mergeReleases([
      { host: "a", live: "02", previous: "01", releases: [rel("01"), rel("02", true)] },
      { host: "b", live: "01", previous: null, releases: [rel("01", true), rel("03", false, false)] },
    ]);
    expect(m.releases.map((r) => [r.id, r.hosts, r.live, r.previous, r.activated])).toEqual([
      ["01", ["a", "b"], ["b"], ["a"], true],
      ["02", ["a"], ["a"], [], true],
      ["03", ["b"], [], [], false],
    ]);
  });
});

describe("findDrift", () => {
  test.each([
    [[{ host: "a", live: "1" }, { host: "b", live: "1" }], null],
    [[{ host: "a", live: "1" }], null],
    [[{ host: "a", live: "2" }, { host: "b", live: "1" }, { host: "c", live: "2" }], { "2": ["a", "c"], "1": ["b"] }],
    [[{ host: "a", live: "1" }, { host: "b", live: null }], { "1": ["a"], none: ["b"] }],
  ])("%j -> %j", (hosts, drift) => {
    expect(findDrift(hosts)).toEqual(drift);
  });
});

describe("selectHosts", () => {
  const cfg: ResolvedConfig = {
    ...helloConfig,
    hosts: [
      { user: "root", host: "10.0.0.1", label: "root@10.0.0.1" },
      { user: "root", host: "10.0.0.2", port: 2200, label: "root@10.0.0.2:2200" },
      { user: "deploy", host: "w1", label: "deploy@w1" },
    ],
    roles: { web: ["root@10.0.0.1", "root@10.0.0.2:2200"], worker: ["deploy@w1"] },
  };
  const labels = (f: Parameters<typeof selectHosts>[1]) => selectHosts(cfg, f).map((h) => h.label);
  test("by label, address or address:port, in deploy.toml's order; by role", () => {
    expect(labels({})).toEqual(["root@10.0.0.1", "root@10.0.0.2:2200", "deploy@w1"]);
    expect(labels({ hosts: ["w1", "10.0.0.2:2200"] })).toEqual(["root@10.0.0.2:2200", "deploy@w1"]);
    expect(labels({ hosts: ["root@10.0.0.1"] })).toEqual(["root@10.0.0.1"]);
    expect(labels({ role: "worker" })).toEqual(["deploy@w1"]);
    expect(labels({ role: "web", hosts: ["10.0.0.1"] })).toEqual(["root@10.0.0.1"]);
  });
  test("a name or role that matches nothing is a usage error naming what there is", () => {
    expect(() => labels({ hosts: ["10.0.0.9"] })).toThrow(new UsageError('no host "10.0.0.9" in sandbox (hosts: root@10.0.0.1, root@10.0.0.2:2200, deploy@w1)'));
    expect(() => labels({ role: "clock" })).toThrow('no role "clock" in sandbox (roles are process names: web, worker)');
    expect(() => labels({ role: "worker", hosts: ["10.0.0.1"] })).toThrow("no host of sandbox is both in --hosts and runs role worker");
  });
});
