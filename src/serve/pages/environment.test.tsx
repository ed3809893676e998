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
  const page = <EnvPage env="prod" viewer={{ role: "read", name: "t" }} status={{ value: status, error: null }} releases={{ value: null, error: { kind: "remote", message: "x" } as never }} audit={{ value: [], error: null }} runs={[]} promoteTo={[]} />;
  const html = (await page.toString()).replace(/\s+/g, " ");
  expect(html).toContain('<h2>Add-ons</h2>');
  expect(html).toContain("active (postgres 15.20)");
  expect(html).toContain("2026-12-04T03:00:00.000Z (2.1 kB)");
  expect(html).toContain('<span class="bad addon-warning">no backup yet, and the schedule (daily) should have made one</span>');
});

test("without add-ons there is no add-ons table", async () => {
  const page = <EnvPage env="prod" viewer={{ role: "read", name: "t" }} status={{ value: { ...status, addons: [] }, error: null }} releases={{ value: null, error: { kind: "remote", message: "x" } as never }} audit={{ value: [], error: null }} runs={[]} promoteTo={[]} />;
  expect(await page.toString()).not.toContain("Add-ons");
});

test("a host's warm standby shows under its slot: release, port, until when, memory", async () => {
  const standby = { port: 8002, release: "20261203000000", until: "2026-12-04T00:15:00.000Z", memoryBytes: 7_340_032 };
  const withStandby = { ...status, hosts: [{ ...status.hosts[0]!, standby }] };
  const page = <EnvPage env="prod" viewer={{ role: "read", name: "t" }} status={{ value: withStandby, error: null }} releases={{ value: null, error: { kind: "remote", message: "x" } as never }} audit={{ value: [], error: null }} runs={[]} promoteTo={[]} />;
  const html = (await page.toString()).replace(/\s+/g, " ");
  expect(html).toContain('<div class="muted standby">standby <code>20261203000000</code> on 8002 until 2026-12-04T00:15:00.000Z, 7.3 MB</div>');
  expect(await (<EnvPage env="prod" viewer={{ role: "read", name: "t" }} status={{ value: status, error: null }} releases={{ value: null, error: { kind: "remote", message: "x" } as never }} audit={{ value: [], error: null }} runs={[]} promoteTo={[]} />).toString()).not.toContain("standby");
});

test("a release that went live offers a Promote button per other served environment (deploy role); a promoted one says where it came from", async () => {
  const rel = (id: string, activated: boolean, from?: { env: string; release: string }) => ({ id, created: "", git: null, by: "t", sha256: "s", hosts: ["root@h1"], live: [], previous: [], activated, ...(from && { from }) });
  const releases = { releases: [rel("20261203000000", true), rel("20261204000000", false, { env: "dev", release: "20261202000000" })], hosts: [] };
  const page = (role: "read" | "deploy") =>
    (<EnvPage env="staging" viewer={{ role, name: "t" }} status={{ value: status, error: null }} releases={{ value: releases, error: null }} audit={{ value: [], error: null }} runs={[]} promoteTo={["prod", "eu"]} />).toString();
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
