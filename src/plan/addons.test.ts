import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { helloConfig } from "../../test/fixtures/config.ts";
import type { ResolvedAddon, ResolvedConfig } from "../config/types.ts";
import { addonScript } from "../server-scripts.ts";
import { addonArgv, addonClients, formatAge, parseHostAddresses, parseAddonStatus, parseAddonUrl, parseBackups, planAddonFiles, unwiredAddons, urlPassword } from "./addons.ts";
import { renderAddonBackupUnits } from "../render/units.ts";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const db: ResolvedAddon = { name: "db", service: "postgres", host: "root@10.0.0.1", address: null, var: "DATABASE_URL", backup: { at: "daily", keep: 7 } };
const cache: ResolvedAddon = { name: "cache", service: "redis", host: "root@10.0.0.1", address: null, var: "REDIS_URL", backup: { at: "hourly", keep: 3 } };
const cfg: ResolvedConfig = { ...helloConfig, app: "hello", env: "prod", addons: [db, cache] };

describe("planAddonFiles", () => {
  test("a host without them: the script, both add-ons' backup units, then systemd reads and starts the timers", () => {
    const steps = planAddonFiles(cfg, cfg.addons, { addonFiles: {} });
    expect(steps.map((s) => (s.kind === "write" ? `write ${s.path} ${s.mode.toString(8)}` : s.kind === "run" ? s.argv.join(" ") : s.kind))).toEqual([
      "install -d -m 0755 /srv/qdeploy/hello",
      "write /srv/qdeploy/hello/addon 700",
      "write /etc/systemd/system/hello-addon-db-backup.service 644",
      "write /etc/systemd/system/hello-addon-db-backup.timer 644",
      "write /etc/systemd/system/hello-addon-cache-backup.service 644",
      "write /etc/systemd/system/hello-addon-cache-backup.timer 644",
      "systemctl daemon-reload",
      "systemctl enable --quiet hello-addon-db-backup.timer hello-addon-cache-backup.timer",
      "systemctl restart hello-addon-db-backup.timer hello-addon-cache-backup.timer",
    ]);
  });

  test("a host that has them all, unchanged: nothing; a changed schedule: that timer alone", () => {
    const have: Record<string, string> = { addon: sha256(addonScript) };
    for (const a of cfg.addons) {
      const u = renderAddonBackupUnits("hello", a);
      have[`hello-addon-${a.name}-backup.service`] = sha256(u.service);
      have[`hello-addon-${a.name}-backup.timer`] = sha256(u.timer);
    }
    expect(planAddonFiles(cfg, cfg.addons, { addonFiles: have })).toEqual([]);
    const hourly = { ...db, backup: { at: "hourly", keep: 7 } };
    const steps = planAddonFiles(cfg, [hourly, cache], { addonFiles: have });
    expect(steps.flatMap((s) => (s.kind === "write" ? [s.path] : s.kind === "run" ? [s.argv.join(" ")] : []))).toEqual([
      "/etc/systemd/system/hello-addon-db-backup.timer",
      "systemctl daemon-reload",
      "systemctl enable --quiet hello-addon-db-backup.timer",
      "systemctl restart hello-addon-db-backup.timer",
    ]);
  });

  test("no add-ons on the host: nothing at all", () => {
    expect(planAddonFiles(cfg, [], null)).toEqual([]);
  });
});

test("the backup units: the script's backup verb with keep; the calendar on the timer, % escaped", () => {
  const u = renderAddonBackupUnits("hello", { ...db, backup: { at: "*-*-* 03:00:00", keep: 4 } });
  expect(u.service).toContain("ExecStart=/srv/qdeploy/hello/addon backup hello db 4\n");
  expect(u.timer).toContain("OnCalendar=*-*-* 03:00:00\n");
  expect(u.timer).toContain("Persistent=true\n");
  expect(renderAddonBackupUnits("hello", { ...db, backup: { at: "%daily", keep: 1 } }).timer).toContain("OnCalendar=%%daily\n");
});

test("addonClients: every address of every host of the environment, once, in host order; hosts not in the environment are not counted", () => {
  const host = (label: string) => ({ label, host: label });
  const fleet: ResolvedConfig = { ...cfg, hosts: [host("a"), host("b"), host("c")] };
  const addresses = new Map([
    ["b", ["10.0.2.15", "10.99.0.2"]],
    ["a", ["10.0.2.15", "10.99.0.1", "fd00:0000:0000:0000:0000:0000:0000:0001"]],
    ["z", ["192.0.2.9"]],
  ]);
  expect(addonClients(fleet, addresses)).toEqual(["10.0.2.15", "10.99.0.1", "fd00:0000:0000:0000:0000:0000:0000:0001", "10.99.0.2"]);
});

test("parseHostAddresses: local IPv4 from fib_trie (not loopback, each once), global IPv6 from if_inet6 (not site, link or host scope)", () => {
  // As the sandbox VM prints HOST_ADDRESSES_ARGV (trimmed; fib_trie lists local addresses in
  // its Main and Local tables both), with a global IPv6 address added.
  const fib = [
    "Main:",
    "  +-- 0.0.0.0/1 2 0 2",
    "        |-- 0.0.0.0",
    "           /0 universe UNICAST",
    "                    |-- 10.0.2.2",
    "                       /32 link UNICAST",
    "                 |-- 10.0.2.15",
    "                    /32 host LOCAL",
    "                 |-- 10.99.0.1",
    "                    /32 host LOCAL",
    "              |-- 10.99.0.255",
    "                 /32 link BROADCAST",
    "           |-- 127.0.0.1",
    "              /32 host LOCAL",
    "Local:",
    "                 |-- 10.0.2.15",
    "                    /32 host LOCAL",
  ].map((l) => `/proc/net/fib_trie:${l}`);
  const inet6 = [
    "fec0000000000000505400fffe123456 02 40 40 00     ens3",
    "00000000000000000000000000000001 01 80 10 80       lo",
    "fe80000000000000505400fffe123456 02 40 20 80     ens3",
    "2001db80000000000000000000000005 02 40 00 00     ens3",
  ].map((l) => `/proc/net/if_inet6:${l}`);
  expect(parseHostAddresses([...fib, ...inet6, ""].join("\n"))).toEqual(["10.0.2.15", "10.99.0.1", "2001:db80:0000:0000:0000:0000:0000:0005"]);
  // A host with IPv6 off has no if_inet6: grep says so on stderr, the IPv4 ones stand.
  expect(parseHostAddresses(fib.join("\n"))).toEqual(["10.0.2.15", "10.99.0.1"]);
});

test("addonArgv: no secret, only names; each verb's arguments", () => {
  expect(addonArgv(cfg, "ensure", db)).toEqual(["/srv/qdeploy/hello/addon", "ensure", "hello", "prod", "db", "postgres"]);
  // Clients only go with an address: an add-on on loopback admits no one else.
  expect(addonArgv(cfg, "ensure", db, ["10.0.0.2"])).toEqual(["/srv/qdeploy/hello/addon", "ensure", "hello", "prod", "db", "postgres"]);
  expect(addonArgv(cfg, "ensure", { ...db, address: "10.0.0.1" }, ["10.0.0.1", "10.0.0.2"])).toEqual(["/srv/qdeploy/hello/addon", "ensure", "hello", "prod", "db", "postgres", "10.0.0.1", "10.0.0.1", "10.0.0.2"]);
  expect(addonArgv(cfg, "backup", cache)).toEqual(["/srv/qdeploy/hello/addon", "backup", "hello", "cache", "3"]);
  expect(addonArgv(cfg, "restore", db, ["20261204T030000Z.dump"])).toEqual(["/srv/qdeploy/hello/addon", "restore", "hello", "db", "7", "20261204T030000Z.dump"]);
  expect(addonArgv(cfg, "status", cache)).toEqual(["/srv/qdeploy/hello/addon", "status", "hello", "cache", "hourly"]);
  expect(addonArgv(cfg, "destroy", "old")).toEqual(["/srv/qdeploy/hello/addon", "destroy", "hello", "old", "7"]);
});

test("the URL from ensure, and its password for the redactor", () => {
  const url = parseAddonUrl("h", "db", "url=postgres://hello_prod_db:abc123@127.0.0.1:5432/hello_prod_db\n");
  expect(url).toBe("postgres://hello_prod_db:abc123@127.0.0.1:5432/hello_prod_db");
  expect(urlPassword(url)).toBe("abc123");
  expect(urlPassword("redis://:s3cret@127.0.0.1:6380")).toBe("s3cret");
  expect(() => parseAddonUrl("h", "db", "nothing\n")).toThrow("add-on db was provisioned but its URL did not come back");
});

test("backups: the listing, with a time from the file's mtime or its name", () => {
  expect(parseBackups("db", "backup=20261204T030000Z.dump 2141 1796094000\nnoise\nbackup=20261205T030000Z.dump 10\n")).toEqual([
    { addon: "db", file: "20261204T030000Z.dump", bytes: 2141, at: "2026-12-01T03:00:00.000Z" },
    { addon: "db", file: "20261205T030000Z.dump", bytes: 10, at: "2026-12-05T03:00:00.000Z" },
  ]);
});

describe("parseAddonStatus: the warning", () => {
  const now = new Date("2026-12-05T12:00:00Z");
  const epoch = (iso: string) => Date.parse(iso) / 1000;
  const status = (lines: Record<string, string>) => Object.entries(lines).map(([k, v]) => `${k}=${v}`).join("\n");
  const base = { service: "postgres", state: "active", version: "15.20", size: "8000000", backups: "1", backup_result: "success", period: "86400", created: String(epoch("2026-11-01T00:00:00Z")) };

  test("a backup younger than twice the schedule: fine", () => {
    const s = parseAddonStatus("hello", db, status({ ...base, last_backup: `20261205T030000Z.dump 2141 ${epoch("2026-12-05T03:00:00Z")}` }), now);
    expect(s).toMatchObject({ state: "active", version: "15.20", bytes: 8000000, backups: 1, warning: null });
    expect(s.lastBackup).toEqual({ addon: "db", file: "20261205T030000Z.dump", bytes: 2141, at: "2026-12-05T03:00:00.000Z" });
  });
  test("older than twice the schedule", () => {
    const s = parseAddonStatus("hello", db, status({ ...base, last_backup: `20261202T030000Z.dump 2141 ${epoch("2026-12-02T03:00:00Z")}` }), now);
    expect(s.warning).toBe("the last backup is 3d old (schedule: daily)");
  });
  test("none, and the add-on is older than twice the schedule", () => {
    expect(parseAddonStatus("hello", db, status({ ...base, backups: "0", backup_result: "", last_backup: "" }), now).warning).toBe("no backup yet, and the schedule (daily) should have made one");
    const young = { ...base, backups: "0", backup_result: "", last_backup: "", created: String(epoch("2026-12-05T11:00:00Z")) };
    expect(parseAddonStatus("hello", db, status(young), now).warning).toBeNull();
  });
  test("the last run failed", () => {
    const s = parseAddonStatus("hello", db, status({ ...base, backup_result: "exit-code", last_backup: `20261205T030000Z.dump 2141 ${epoch("2026-12-05T03:00:00Z")}` }), now);
    expect(s.warning).toBe("the last backup run failed (exit-code): journalctl -u hello-addon-db-backup.service");
  });
});

test("formatAge", () => {
  expect([formatAge(30), formatAge(600), formatAge(10_800), formatAge(259_200)]).toEqual(["30s", "10m", "3h", "3d"]);
});

test("an add-on the host keeps but deploy.toml no longer names: said, with how to destroy it", () => {
  expect(unwiredAddons(cfg, "root@10.0.0.1", ["db", "old"])).toEqual([
    "add-on old is no longer in deploy.toml: its data stays and nothing reads it now; `qdeploy addons destroy prod old --yes` removes it (after a final backup)",
  ]);
});
