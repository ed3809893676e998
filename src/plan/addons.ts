/**
 * Add-ons (Postgres, Redis) on the environment's hosts: what to install before server/addon.sh
 * runs, its command lines, and its output read back as data. Pure.
 */
import { createHash } from "node:crypto";
import type { HostAddress, ResolvedAddon, ResolvedConfig } from "../config/types.ts";
import { renderAddonBackupUnits } from "../render/units.ts";
import { addonScript } from "../server-scripts.ts";
import { layout, unitNames } from "../server-layout.ts";
import type { HostFacts } from "./facts.ts";
import type { Step } from "./steps.ts";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/**
 * What prints a host's own addresses, for parseHostAddresses: the kernel's tables, one
 * process, asked only in an environment with an add-on other hosts reach.
 */
export const HOST_ADDRESSES_ARGV = ["grep", "-H", "", "/proc/net/fib_trie", "/proc/net/if_inet6"];

/**
 * A host's own addresses, global scope, from HOST_ADDRESSES_ARGV's output: IPv4 from
 * fib_trie, where a local address is a "|-- ADDR" line followed by "/32 host LOCAL" (not
 * 127/8); IPv6 from if_inet6 (32 hex digits, then ifindex, prefix length, scope: 00 is
 * global), written as eight groups. Each once.
 */
export function parseHostAddresses(out: string): string[] {
  const found = new Set<string>();
  let last = "";
  for (const line of out.split("\n")) {
    const at = line.indexOf(":");
    const [file, text] = [line.slice(0, at), line.slice(at + 1)];
    const words = text.trim().split(/\s+/);
    if (file === "/proc/net/fib_trie") {
      if (words[0] === "|--") last = words[1] ?? "";
      else if (words[0] === "/32" && words[1] === "host" && words[2] === "LOCAL" && last && !last.startsWith("127.")) found.add(last);
    } else if (file === "/proc/net/if_inet6" && /^[0-9a-f]{32}$/.test(words[0] ?? "") && words[3] === "00") {
      found.add(words[0]!.match(/.{4}/g)!.join(":"));
    }
  }
  return [...found];
}

/**
 * The addresses an add-on reached from other hosts admits: every address of every host of
 * the environment (its own host's too: its processes connect to the same URL), each once.
 */
export function addonClients(cfg: ResolvedConfig, addresses: Map<string, string[]>): string[] {
  return [...new Set(cfg.hosts.flatMap((h) => addresses.get(h.label) ?? []))];
}

/**
 * The hosts add-ons live on, each once, in add-on order: the environment's own, or a host of
 * their own (a database server that runs none of the app's processes; check requires an
 * address for it).
 */
export function addonHostAddresses(cfg: ResolvedConfig, addons: ResolvedAddon[] = cfg.addons): HostAddress[] {
  const known = [...cfg.hosts, ...cfg.addonOnlyHosts];
  const out: HostAddress[] = [];
  for (const a of addons) {
    if (!out.some((h) => h.label === a.host)) out.push(known.find((h) => h.label === a.host)!);
  }
  return out;
}

/** The add-ons that live on this host (by label). */
export function addonsOn(cfg: ResolvedConfig, hostLabel: string): ResolvedAddon[] {
  return cfg.addons.filter((a) => a.host === hostLabel);
}

/**
 * The script and each add-on's backup units, written where the host's copy differs (all of
 * them when `facts` is null); then systemd reads them and the timers start.
 */
export function planAddonFiles(cfg: ResolvedConfig, addons: ResolvedAddon[], facts: Pick<HostFacts, "addonFiles"> | null): Step[] {
  if (addons.length === 0) return [];
  const l = layout(cfg.app);
  const have = facts?.addonFiles ?? {};
  const steps: Step[] = [];
  if (have.addon !== sha256(addonScript)) {
    // An app's add-ons may come before its first push (`addons setup`).
    steps.push({ kind: "run", argv: ["install", "-d", "-m", "0755", l.root], why: "the app's folder" });
    steps.push({ kind: "write", path: l.addonScript, content: addonScript, mode: 0o700, why: "the add-ons' script (provision, back up, restore)" });
  }
  const timers: string[] = [];
  for (const addon of addons) {
    const units = renderAddonBackupUnits(cfg.app, addon);
    const files: [string, string][] = [
      [unitNames.addonBackupService(cfg.app, addon.name), units.service],
      [unitNames.addonBackupTimer(cfg.app, addon.name), units.timer],
    ];
    const changed = files.filter(([name, content]) => have[name] !== sha256(content));
    for (const [name, content] of changed) {
      steps.push({ kind: "write", path: `${l.unitDir}/${name}`, content, mode: 0o644, why: `add-on ${addon.name}'s backups (${addon.backup.at}, keep ${addon.backup.keep})` });
    }
    if (changed.length) timers.push(unitNames.addonBackupTimer(cfg.app, addon.name));
  }
  if (timers.length) {
    steps.push(
      { kind: "run", argv: ["systemctl", "daemon-reload"], why: "systemd reads the backup units" },
      // restart, not start: a changed schedule takes effect now.
      { kind: "run", argv: ["systemctl", "enable", "--quiet", ...timers], why: "the backup timers survive a reboot" },
      { kind: "run", argv: ["systemctl", "restart", ...timers], why: "the backup timers run" },
    );
  }
  return steps;
}

/**
 * server/addon.sh's command line for one verb. Never carries a secret: the script keeps them.
 * `ensure`'s extra words are the addresses of the hosts that reach an add-on with an address.
 */
export function addonArgv(cfg: ResolvedConfig, verb: "ensure" | "backup" | "backups" | "restore" | "status" | "console" | "destroy" | "seed", addon: ResolvedAddon | string, extra: string[] = []): string[] {
  const l = layout(cfg.app);
  const name = typeof addon === "string" ? addon : addon.name;
  const a = typeof addon === "string" ? null : addon;
  const keep = String(a?.backup.keep ?? 7);
  switch (verb) {
    case "ensure":
      return [l.addonScript, verb, cfg.app, cfg.env, name, a!.service, ...(a!.address ? [a!.address, ...extra] : [])];
    case "backup":
    case "destroy":
      return [l.addonScript, verb, cfg.app, name, keep];
    case "restore":
      return [l.addonScript, verb, cfg.app, name, keep, ...extra];
    case "seed":
      return [l.addonScript, verb, cfg.app, name, ...extra];
    case "status":
      return [l.addonScript, verb, cfg.app, name, a?.backup.at ?? "daily"];
    default:
      return [l.addonScript, verb, cfg.app, name];
  }
}

/** `ensure`'s URL (it holds the password: the caller hides it before anything prints). */
export function parseAddonUrl(label: string, name: string, stdout: string): string {
  const url = /^url=(\S+)$/m.exec(stdout)?.[1];
  if (!url) throw new Error(`${label}: add-on ${name} was provisioned but its URL did not come back`);
  return url;
}

/** The password inside an add-on URL (`scheme://user:PASSWORD@host`), for the redactor. */
export function urlPassword(url: string): string {
  return decodeURIComponent(new URL(url).password);
}

/** One backup of an add-on, as `backups` lists it. */
export interface AddonBackup {
  addon: string;
  /** Its file name in the backups folder: the UTC time it was taken (20261204T120000Z.dump). */
  file: string;
  bytes: number;
  /** When it was taken (ISO 8601, UTC). */
  at: string;
}

/** `backup=FILE BYTES [EPOCH]` lines. */
export function parseBackups(addon: string, stdout: string): AddonBackup[] {
  return [...stdout.matchAll(/^backup=(\S+) (\d+)(?: (\d+))?$/gm)].map((m) => ({
    addon,
    file: m[1]!,
    bytes: Number(m[2]),
    at: m[3] ? new Date(Number(m[3]) * 1000).toISOString() : fileTime(m[1]!),
  }));
}

/** A backup's time from its name (20261204T120000Z.dump -> 2026-12-04T12:00:00.000Z). */
function fileTime(file: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(file);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.000Z` : "";
}

/** An add-on's state as `addons status` shows it. */
export interface AddonStatus {
  addon: string;
  service: string;
  host: string;
  /** "active" when it answers. */
  state: string;
  version: string;
  /** The database's size, or Redis's used memory, in bytes (null when it did not answer). */
  bytes: number | null;
  backups: number;
  lastBackup: AddonBackup | null;
  /** The backup unit's last result ("success", "exit-code", ...; "" when it never ran). */
  backupResult: string;
  /** Why the backups need a look: none for too long, or the last run failed; null when fine. */
  warning: string | null;
}

/** `status`'s key=value lines, and the warning they add up to at `now`. */
export function parseAddonStatus(app: string, addon: ResolvedAddon, stdout: string, now: Date): AddonStatus {
  const kv = new Map([...stdout.matchAll(/^([a-z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  const last = parseBackups(addon.name, `backup=${kv.get("last_backup") ?? ""}`)[0] ?? null;
  const size = kv.get("size") ?? "";
  const period = Number(kv.get("period") || 86400);
  const since = (iso: string) => (now.getTime() - Date.parse(iso)) / 1000;
  const created = Number(kv.get("created") || 0);
  const result = kv.get("backup_result") ?? "";
  let warning: string | null = null;
  if (result !== "" && result !== "success") warning = `the last backup run failed (${result}): journalctl -u ${unitNames.addonBackupService(app, addon.name)}`;
  else if (last === null && now.getTime() / 1000 - created > 2 * period) warning = `no backup yet, and the schedule (${addon.backup.at}) should have made one`;
  else if (last !== null && since(last.at) > 2 * period) warning = `the last backup is ${formatAge(since(last.at))} old (schedule: ${addon.backup.at})`;
  return {
    addon: addon.name,
    service: addon.service,
    host: addon.host,
    state: kv.get("state") || "unknown",
    version: kv.get("version") ?? "",
    bytes: /^\d+$/.test(size) ? Number(size) : null,
    backups: Number(kv.get("backups") || 0),
    lastBackup: last,
    backupResult: result,
    warning,
  };
}

/** 90 -> "1m", 7200 -> "2h", 172800 -> "2d". */
export function formatAge(sec: number): string {
  if (sec < 120) return `${Math.round(sec)}s`;
  if (sec < 7200) return `${Math.round(sec / 60)}m`;
  if (sec < 172800) return `${Math.round(sec / 3600)}h`;
  return `${Math.round(sec / 86400)}d`;
}

/** Add-ons a host keeps credentials for that deploy.toml no longer names: left as they are, said so. */
export function unwiredAddons(cfg: ResolvedConfig, hostLabel: string, onHost: string[]): string[] {
  const wired = new Set(addonsOn(cfg, hostLabel).map((a) => a.name));
  return onHost.filter((n) => !wired.has(n)).map((n) => `add-on ${n} is no longer in deploy.toml: its data stays and nothing reads it now; \`qdeploy addons destroy ${cfg.env} ${n} --yes\` removes it (after a final backup)`);
}
