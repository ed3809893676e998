/**
 * Add-ons on the environment's hosts: provisioned by push (and `addons setup`), their URLs put
 * in every release's env file; backups, restore, consoles and status through server/addon.sh.
 * The passwords stay on the add-on's host; a URL crosses the SSH channel into this process
 * only to be written into the env file, and is hidden from everything that prints.
 */
import { createHash } from "node:crypto";
import { createWriteStream, existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import type { ResolvedAddon } from "../config/types.ts";
import { OperationError, UsageError } from "../errors.ts";
import { planAddonHostFirewall } from "../plan/setup.ts";
import { type AddonBackup, type AddonStatus, addonArgv, addonClients, addonHostAddresses, addonsOn, HOST_ADDRESSES_ARGV, parseHostAddresses, parseAddonStatus, parseAddonUrl, parseBackups, planAddonFiles, unwiredAddons, urlPassword } from "../plan/addons.ts";
import type { HostFacts } from "../plan/facts.ts";
import { gatherFacts } from "../remote/host-ops.ts";
import { runBatch } from "../remote/run-plan.ts";
import { layout } from "../server-layout.ts";
import { base64Stream } from "../util/base64-stream.ts";
import type { OpContext } from "./context.ts";
import { type Connection, withConnections, withLockedSessions } from "./sessions.ts";

export type { AddonStatus };

/** A connection, with the host's facts when they were read already (push's, under its lock). */
type AddonHost = Connection & { facts?: HostFacts };

/** What provisioning gives a push: each add-on's variable and URL. */
export interface ProvisionedAddons {
  vars: Record<string, string>;
}

/**
 * Makes every add-on ready (the package, the database or instance, the credentials, the
 * backup timer) on its host, over `open` where it has a connection (push's locked ones) and
 * a new one where it has not (a push narrowed by --hosts); the URLs every release gets.
 */
export async function provisionAddons(op: OpContext, open: AddonHost[]): Promise<ProvisionedAddons> {
  const vars: Record<string, string> = {};
  if (op.cfg.addons.length === 0) return { vars };
  const hosts = addonHostAddresses(op.cfg, op.cfg.addons);
  // An add-on the other hosts reach admits every host of the environment, pushed to or not
  // (a --hosts push must not shut the others out): each one is asked its addresses.
  const reached = op.cfg.addons.some((a) => a.address);
  const needed = [...hosts, ...(reached ? op.cfg.hosts.filter((h) => !hosts.some((a) => a.label === h.label)) : [])];
  const missing = needed.filter((h) => !open.some((c) => c.host.label === h.label));
  const provision = async (more: AddonHost[]) => {
    const all = [...open, ...more];
    const addresses = new Map(
      reached
        ? await Promise.all(all.map(async (c) => [c.host.label, parseHostAddresses((await c.remote.exec(HOST_ADDRESSES_ARGV, { check: false })).stdout)] as const))
        : [],
    );
    const clients = addonClients(op.cfg, addresses);
    for (const c of all.filter((c) => hosts.some((h) => h.label === c.host.label))) {
      const addons = addonsOn(op.cfg, c.host.label);
      const facts = c.facts ?? (await gatherFacts(c.remote, c.host, op.cfg.app));
      // A database server of its own gets no setup from push: its firewall comes from here.
      const firewall = op.cfg.addonOnlyHosts.some((h) => h.label === c.host.label) ? planAddonHostFirewall(op.cfg, facts) : [];
      await runBatch(c.remote, [...firewall, ...planAddonFiles(op.cfg, addons, facts)], op.events);
      // At once: each is its own channel, and the host's time goes to starting programs.
      const urls = await Promise.all(addons.map((addon) => ensure(op, c, addon, clients)));
      addons.forEach((addon, i) => (vars[addon.var] = urls[i]!));
    }
  };
  if (missing.length) await withConnections(missing, op.connect, provision);
  else await provision([]);
  return { vars };
}

/** One add-on's `ensure`: idempotent; its URL, hidden from what prints before it is returned. */
async function ensure(op: OpContext, c: Connection, addon: ResolvedAddon, clients: string[]): Promise<string> {
  const t = performance.now();
  const r = await c.remote.exec(addonArgv(op.cfg, "ensure", addon, clients), {
    // apt-get's and the script's progress, never the URL (that is on stdout).
    onStderr: (chunk) => {
      for (const line of chunk.split("\n")) if (line.trim()) op.events({ type: "debug", line: `${c.host.label} ${line}` });
    },
  });
  const url = parseAddonUrl(c.host.label, addon.name, r.stdout);
  op.redactor.hide([url, urlPassword(url)]);
  const sec = ((performance.now() - t) / 1000).toFixed(1);
  op.events({ type: "host", host: c.host.label, line: `add-on ${addon.name} (${addon.service}) ready in ${sec}s: ${addon.var}${addon.address ? ` (TLS at ${addon.address}, for ${op.cfg.env}'s ${op.cfg.hosts.length === 1 ? "host" : `${op.cfg.hosts.length} hosts`}: ${clients.join(" ")})` : ""}` });
  return url;
}

/**
 * A secret named like an add-on's variable is an error, found before any host is touched
 * (the add-on's URL would silently replace it, or the other way round).
 */
export function checkAddonVars(secrets: Record<string, string>, addons: ResolvedAddon[]): void {
  for (const a of addons) {
    if (secrets[a.var] !== undefined) {
      throw new OperationError(`the secret ${a.var} is also add-on ${a.name}'s variable: remove the secret (qdeploy secrets unset ENV ${a.var}) or give the add-on another var in [addons.${a.name}]`);
    }
  }
}

/** What push says about add-ons a host keeps that deploy.toml no longer names. */
export function reportUnwired(op: OpContext, hosts: { host: { label: string }; facts: HostFacts }[]): void {
  for (const h of hosts) {
    for (const line of unwiredAddons(op.cfg, h.host.label, h.facts.addons ?? [])) op.events({ type: "warn", line: `${h.host.label}: ${line}` });
  }
}

/** The add-ons a command acts on: the one named, or all; an unknown name is a usage error. */
export function pickAddons(op: OpContext, name: string | null, service?: ResolvedAddon["service"]): ResolvedAddon[] {
  const all = op.cfg.addons.filter((a) => service === undefined || a.service === service);
  const known = () => op.cfg.addons.map((a) => `${a.name} (${a.service})`).join(", ") || "none";
  if (op.cfg.addons.length === 0) throw new UsageError(`${op.cfg.env} has no add-ons: add [addons.NAME] with service = "postgres" or "redis" to deploy.toml`);
  if (name === null) {
    if (all.length === 0) throw new UsageError(`${op.cfg.env} has no ${service} add-on (add-ons: ${known()})`);
    return all;
  }
  const one = all.find((a) => a.name === name);
  if (!one) throw new UsageError(`no ${service ?? ""}${service ? " " : ""}add-on "${name}" in ${op.cfg.env} (add-ons: ${known()})`);
  return [one];
}

/** Runs f for each add-on over one connection per host. */
async function onAddonHosts<T>(op: OpContext, addons: ResolvedAddon[], f: (c: Connection, addon: ResolvedAddon) => Promise<T>): Promise<T[]> {
  return withConnections(addonHostAddresses(op.cfg, addons), op.connect, async (connections) => {
    const out: T[] = [];
    for (const addon of addons) out.push(await f(connections.find((c) => c.host.label === addon.host)!, addon));
    return out;
  });
}

/** `qdeploy addons setup ENV`: what push does for add-ons, without a release. */
export async function addonsSetup(op: OpContext): Promise<{ addon: string; service: string; host: string; var: string }[]> {
  pickAddons(op, null);
  await withConnections(addonHostAddresses(op.cfg, op.cfg.addons), op.connect, (connections) => provisionAddons(op, connections));
  return op.cfg.addons.map((a) => ({ addon: a.name, service: a.service, host: a.host, var: a.var }));
}

/** `qdeploy addons status ENV`: each add-on's state, version, size and backups. */
export async function addonsStatus(op: OpContext, now = new Date()): Promise<AddonStatus[]> {
  pickAddons(op, null);
  return withConnections(addonHostAddresses(op.cfg, op.cfg.addons), op.connect, (connections) => addonStatuses(op, connections, now));
}

/** The add-ons on these connections' hosts (the others are not asked), in deploy.toml's order. */
export async function addonStatuses(op: OpContext, connections: Connection[], now = new Date()): Promise<AddonStatus[]> {
  const asked = op.cfg.addons.filter((a) => connections.some((c) => c.host.label === a.host));
  return Promise.all(
    asked.map(async (addon) => {
      const c = connections.find((x) => x.host.label === addon.host)!;
      const r = await c.remote.exec(addonArgv(op.cfg, "status", addon), { check: false });
      if (r.code !== 0) {
        return { ...parseAddonStatus(op.cfg.app, addon, "", now), state: "missing", warning: `not provisioned on ${addon.host} (push or qdeploy addons setup does it): ${r.stderr.trim().replace(/^addon: /, "")}` };
      }
      return parseAddonStatus(op.cfg.app, addon, r.stdout, now);
    }),
  );
}

/** `qdeploy addons backup ENV [ADDON]`: one backup now, the same as the timer takes. */
export async function addonsBackup(op: OpContext, name: string | null): Promise<AddonBackup[]> {
  return onAddonHosts(op, pickAddons(op, name), async (c, addon) => {
    const t = performance.now();
    const r = await c.remote.exec(addonArgv(op.cfg, "backup", addon));
    const [b] = parseBackups(addon.name, r.stdout);
    if (!b) throw new OperationError(`${c.host.label}: the backup of ${addon.name} said nothing about its file`);
    op.events({ type: "host", host: c.host.label, line: `${addon.name}: ${b.file} in ${((performance.now() - t) / 1000).toFixed(1)}s` });
    return b;
  });
}

/** `qdeploy addons backups ENV`: every backup on the hosts, oldest first per add-on. */
export async function addonsBackups(op: OpContext, name: string | null): Promise<AddonBackup[]> {
  const lists = await onAddonHosts(op, pickAddons(op, name), async (c, addon) => parseBackups(addon.name, (await c.remote.exec(addonArgv(op.cfg, "backups", addon))).stdout));
  return lists.flat();
}

/** The backup a name picks: a file name as listed, or the newest when none is given. */
function pickBackup(list: AddonBackup[], addon: string, file: string | null): AddonBackup {
  if (list.length === 0) throw new OperationError(`add-on ${addon} has no backup yet (qdeploy addons backup takes one)`);
  const b = file === null ? list.at(-1)! : list.find((x) => x.file === file);
  if (!b) throw new UsageError(`no backup "${file}" of ${addon} (backups: ${list.map((x) => x.file).join(", ")})`);
  return b;
}

/** `qdeploy addons pull ENV ADDON [BACKUP]`: the backup (default the newest) into a local file, 0600; its path. */
export async function addonsPull(op: OpContext, name: string, file: string | null, dir = process.cwd()): Promise<{ file: string; bytes: number }> {
  const [addon] = pickAddons(op, name);
  return (await onAddonHosts(op, [addon!], async (c) => {
    const b = pickBackup(parseBackups(addon!.name, (await c.remote.exec(addonArgv(op.cfg, "backups", addon!))).stdout), addon!.name, file);
    // base64 keeps the bytes whole through a text channel; decoded as it arrives into the
    // file: a dump of gigabytes never sits in memory.
    const local = resolve(dir, `${op.cfg.app}-${op.cfg.env}-${addon!.name}-${b.file}`);
    const out = createWriteStream(local, { mode: 0o600 });
    let written = 0;
    const decoded = base64Stream((bytes) => {
      written += bytes.length;
      out.write(bytes);
    });
    try {
      await c.remote.exec(["base64", `${layout(op.cfg.app).addonBackups(addon!.name)}/${b.file}`], { onStdout: decoded.write });
      decoded.end();
    } finally {
      await new Promise<void>((done, fail) => out.end((e?: Error | null) => (e ? fail(e) : done())));
    }
    if (written !== b.bytes) throw new OperationError(`${c.host.label}: ${b.file} came back as ${written} bytes, not ${b.bytes}`);
    return { file: local, bytes: written };
  }))[0]!;
}

/**
 * `qdeploy addons restore ENV ADDON BACKUP|FILE`: under the deploy lock of the add-on's host,
 * a backup first, then the named backup (or a local dump, uploaded beside them) over the data.
 */
export async function addonsRestore(op: OpContext, name: string, what: string): Promise<{ restored: string; safety: string | null }> {
  const [addon] = pickAddons(op, name);
  const [host] = addonHostAddresses(op.cfg, [addon!]);
  const local = existsSync(what) && statSync(what).isFile() ? resolve(what) : null;
  if (!local && what.includes("/")) throw new UsageError(`${what}: no such file here (a backup on the host is named by its time, e.g. 20261204T030000Z.dump: qdeploy addons backups lists them)`);
  return withLockedSessions(op, [host!], async ([s]) => {
    const remote = s!.remote;
    const dir = layout(op.cfg.app).addonBackups(addon!.name);
    let file = what;
    if (local) {
      const bytes = await readFile(local);
      const sha256 = createHash("sha256").update(bytes).digest("hex");
      const ext = addon!.service === "postgres" ? "dump" : "rdb";
      file = `upload-${sha256}.${ext}`;
      await remote.exec(["install", "-d", "-m", "0700", dir]);
      await remote.upload(local, `${dir}/${file}`, { sha256, mode: 0o600 });
      op.events({ type: "host", host: s!.host.label, line: `uploaded ${basename(local)} (${bytes.length} bytes)` });
    } else {
      pickBackup(parseBackups(addon!.name, (await remote.exec(addonArgv(op.cfg, "backups", addon!))).stdout), addon!.name, what);
    }
    const t = performance.now();
    const r = await remote.exec(addonArgv(op.cfg, "restore", addon!, [file]), {
      onStderr: (chunk) => {
        for (const line of chunk.split("\n")) if (line.trim()) op.events({ type: "host", host: s!.host.label, line });
      },
    });
    if (local) await remote.exec(["rm", "-f", `${dir}/${file}`]);
    const safety = /^backup=(\S+)/m.exec(r.stderr)?.[1] ?? null;
    op.events({ type: "host", host: s!.host.label, line: `${addon!.name} restored from ${local ? basename(local) : file} in ${((performance.now() - t) / 1000).toFixed(1)}s` });
    return { restored: local ? basename(local) : file, safety };
  });
}

/** `qdeploy addons destroy ENV ADDON --yes`: a final backup, then the data and credentials; the backups stay. */
export async function addonsDestroy(op: OpContext, name: string): Promise<{ backup: string | null }> {
  const configured = op.cfg.addons.find((a) => a.name === name);
  // Removed from deploy.toml already (the usual way): it lives on the environment's first host, as it did.
  const host = configured ? addonHostAddresses(op.cfg, [configured])[0]! : op.cfg.hosts[0]!;
  return withLockedSessions(op, [host], async ([s]) => {
    if (!(s!.facts.addons ?? []).includes(name)) throw new UsageError(`${host.label} has no add-on "${name}" for ${op.cfg.app}`);
    const r = await s!.remote.exec(addonArgv(op.cfg, "destroy", configured ?? name));
    op.events({ type: "host", host: host.label, line: `add-on ${name} destroyed; its backups stay in ${layout(op.cfg.app).addonBackups(name)}` });
    return { backup: /^backup=(\S+)/m.exec(r.stdout)?.[1] ?? null };
  });
}
