/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import { expect, test } from "bun:test";
import type { FleetStatus } from "../../ops/status.ts";
import { EnvPage } from "./environment.tsx";

const status: FleetStatus = {
  hosts: [{ host: "root@h1", roles: ["web"], live: "20261204000000", slot: "8001", health: "ok", units: [], timers: [], standby: null, watchdog: null }],
  drift: null,
  addons: [
    { addon: "db", service: "postgres", host: "root@h1", state: "active", version: "15.20", bytes: 8_000_000, backups: 2, backupResult: "success", warning: null, lastBackup: { addon: "db", file: "20261204T030000Z.dump", bytes: 2141, at: "2026-12-04T03:00:00.000Z" } },
    { addon: "cache", service: "redis", host: "root@h1", state: "active", version: "7.0.15", bytes: null, backups: 0, backupResult: "", warning: "no backup yet, and the schedule (daily) should have made one", lastBackup: null },
  ],
};

test("the environment page lists each add-on: state, size, last backup, and the warning", async () => {
  const page = <EnvPage env="prod" viewer={{ role: "read", name: "t" }} status={{ value: status, error: null }} releases={{ value: null, error: { kind: "remote", message: "x" } as never }} audit={{ value: [], error: null }} runs={[]} promoteTo={[]} now={0} />;
  const html = (await page.toString()).replace(/\s+/g, " ");
  expect(html).toContain('<h2>Add-ons</h2>');
  expect(html).toContain("active (postgres 15.20)");
  expect(html).toContain("2026-12-04T03:00:00.000Z (2.1 kB)");
  expect(html).toContain('<span class="bad addon-warning">no backup yet, and the schedule (daily) should have made one</span>');
});

test("without add-ons there is no add-ons table", async () => {
  const page = <EnvPage env="prod" viewer={{ role: "read", name: "t" }} status={{ value: { ...status, addons: [] }, error: null }} releases={{ value: null, error: { kind: "remote", message: "x" } as never }} audit={{ value: [], error: null }} runs={[]} promoteTo={[]} now={0} />;
  expect(await page.toString()).not.toContain("Add-ons");
});

test("a host's warm standby shows under its slot: release, port, until when, memory", async () => {
  const standby = { port: 8002, release: "20261203000000", until: "2026-12-04T00:15:00.000Z", memoryBytes: 7_340_032 };
  const withStandby = { ...status, hosts: [{ ...status.hosts[0]!, standby }] };
  const page = <EnvPage env="prod" viewer={{ role: "read", name: "t" }} status={{ value: withStandby, error: null }} releases={{ value: null, error: { kind: "remote", message: "x" } as never }} audit={{ value: [], error: null }} runs={[]} promoteTo={[]} now={0} />;
  const html = (await page.toString()).replace(/\s+/g, " ");
  expect(html).toContain('<div class="muted standby">standby <code>20261203000000</code> on 8002 until 2026-12-04T00:15:00.000Z, 7.3 MB</div>');
  expect(await (<EnvPage env="prod" viewer={{ role: "read", name: "t" }} status={{ value: status, error: null }} releases={{ value: null, error: { kind: "remote", message: "x" } as never }} audit={{ value: [], error: null }} runs={[]} promoteTo={[]} now={0} />).toString()).not.toContain("standby");
});

test("a release that went live offers a Promote button per other served environment (deploy role); a promoted one says where it came from", async () => {
  const rel = (id: string, activated: boolean, from?: { env: string; release: string }) => ({ id, created: "", git: null, by: "t", sha256: "s", hosts: ["root@h1"], live: [], previous: [], activated, ...(from && { from }) });
  const releases = { releases: [rel("20261203000000", true), rel("20261204000000", false, { env: "dev", release: "20261202000000" })], hosts: [] };
  const page = (role: "read" | "deploy") =>
    (<EnvPage env="staging" viewer={{ role, name: "t" }} status={{ value: status, error: null }} releases={{ value: releases, error: null }} audit={{ value: [], error: null }} runs={[]} promoteTo={["prod", "eu"]} now={0} />).toString();
  const html = (await page("deploy")).replace(/\s+/g, " ");
  expect(html.match(/<button type="submit" class="promote" data-release="(\d+)" data-to="(\w+)">/g)).toEqual([
    '<button type="submit" class="promote" data-release="20261203000000" data-to="prod">',
    '<button type="submit" class="promote" data-release="20261203000000" data-to="eu">',
  ]);
  expect(html).toContain('<form method="post" action="/env/prod/promote"');
  expect(html).toContain('<input type="hidden" name="from" value="staging"/>');
  expect(html).toContain('<span class="muted promoted-from"> from dev 20261202000000</span>');
  expect(await page("read")).not.toContain("Promote to");
});

test("charts: each process's memory and CPU over the hour, with the latest; the deploys as bars, red when refused", async () => {
  const now = 10_000;
  const usage = [
    { process: "web", points: [{ at: now - 120, memoryBytes: 10_000_000, cpuPercent: null }, { at: now - 60, memoryBytes: 12_000_000, cpuPercent: 2 }, { at: now, memoryBytes: 11_000_000, cpuPercent: 4 }] },
    { process: "worker", points: [{ at: now, memoryBytes: 30_000_000, cpuPercent: null }] },
  ];
  const withUsage = { ...status, hosts: [{ ...status.hosts[0]!, usage }] };
  const rel = (id: string, created: string) => ({ id, created, git: null, by: "t", sha256: "s", hosts: ["root@h1"], live: [], previous: [], activated: true });
  const releases = { releases: [rel("20261203000000", "2026-12-03T00:00:00.000Z"), rel("20261204000000", "2026-12-04T00:00:00.000Z")], hosts: [] };
  const audit = [
    { host: "root@h1", time: "2026-12-04T00:00:07Z", line: "refused 20261204000000 by t: its health check failed" },
    { host: "root@h1", time: "2026-12-03T00:00:05Z", line: "activated 20261203000000 by t" },
  ];
  const html = (await (<EnvPage env="prod" viewer={{ role: "read", name: "t" }} status={{ value: withUsage, error: null }} releases={{ value: releases, error: null }} audit={{ value: audit, error: null }} runs={[]} promoteTo={[]} now={now} />).toString()).replace(/\s+/g, " ");
  expect(html).toContain("<h2>Memory and CPU</h2>");
  expect(html).toContain('<tr data-process="web">');
  expect(html).toContain('aria-label="web memory over the last hour, now 11.0 MB"');
  expect(html).toContain('aria-label="web CPU over the last hour (of one CPU), now 4.0 %"');
  // The hour's right edge is now (x = 180; a minute is 3 units); the most memory at the top.
  expect(html).toContain('<polyline points="174.0,7.3 177.0,2.0 180.0,4.7">');
  expect(html).toContain('<circle cx="180.0" cy="2.0" r="1.5">'); // the worker's one sample
  expect(html).toContain("<h2>Deploys</h2>");
  expect(html).toMatch(/<rect [^>]*class="live" data-release="20261203000000"><title>20261203000000: live, 5\.0 s, 2026-12-03T00:00:05\.000Z<\/title>/);
  expect(html).toMatch(/<rect [^>]*class="refused" data-release="20261204000000"><title>20261204000000: refused, 7\.0 s/);
});
