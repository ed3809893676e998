/** releases, status, logs, restart, exec, lock as the CLI prints them (the work is in src/ops/). */
import * as hostCommands from "../ops/host-commands.ts";
import { releases as fleetReleases } from "../ops/releases.ts";
import type { HostFilter } from "../ops/sessions.ts";
import { environmentNotifier } from "../ops/notify.ts";
import { status as fleetStatus } from "../ops/status.ts";
import { describeLastRun, describeUsage, notRunYet } from "../remote/switch-status.ts";
import { formatBytes } from "../util/bytes.ts";
import { type Ctx, loadEnvironment, opContext } from "./context.ts";

/** `qdeploy releases ENV`: every release on the hosts, the live one marked (and where, on a fleet). */
export async function releases(ctx: Ctx, env: string, filter: HostFilter = {}): Promise<void> {
  const cfg = await loadEnvironment(ctx, env);
  const r = await fleetReleases(opContext(ctx, cfg), filter);
  ctx.out.data(r);
  const fleet = r.hosts.length > 1;
  const all = (hosts: string[]) => hosts.length === r.hosts.length;
  for (const rel of [...r.releases].reverse()) {
    const mark = rel.live.length ? "live    " : rel.previous.length ? "previous" : rel.activated ? "        " : "refused ";
    const where = !fleet
      ? ""
      : `  ${rel.live.length ? `live on ${all(rel.live) ? "all" : rel.live.join(", ")}; ` : ""}on ${all(rel.hosts) ? `all ${r.hosts.length} hosts` : rel.hosts.join(", ")}`;
    const from = rel.from ? `  from ${rel.from.env} ${rel.from.release}` : "";
    ctx.out.result(`${mark} ${rel.id}  ${rel.created.slice(0, 19)}Z  git ${(rel.git ?? "-").slice(0, 12).padEnd(12)}  ${describeBinaries(rel)}  by ${rel.by}${from}${where}`);
  }
  if (!r.releases.length) ctx.out.result("(no releases)");
}

/** `sha256 abc...` for one binary (and releases of older versions); `web abc..., worker def...` for several. */
export function describeBinaries(r: { sha256: string; binaries?: Record<string, string> }): string {
  const all = Object.entries(r.binaries ?? {});
  const distinct = new Set(all.map(([, sha]) => sha));
  if (all.length === 0 || distinct.size === 1) return `sha256 ${r.sha256.slice(0, 12)}`;
  return all.map(([name, sha]) => `${name} ${sha.slice(0, 12)}`).join(", ");
}

/** `qdeploy status ENV`: per host the live release, each unit's state, health, next timer runs; exit 1 on drift. */
export async function status(ctx: Ctx, env: string, filter: HostFilter = {}): Promise<number> {
  const cfg = await loadEnvironment(ctx, env);
  const s = await fleetStatus(opContext(ctx, cfg), filter);
  ctx.out.data(s);
  for (const h of s.hosts) {
    const roles = cfg.roles ? `  roles ${h.roles.join(", ")}` : "";
    ctx.out.result(`${h.host}  live ${h.live ?? "(none)"}  slot ${h.slot ?? "-"}  health ${h.health ?? "-"}${roles}`);
    for (const u of h.units) {
      const state = u.lastRun ? describeLastRun(u.lastRun) : notRunYet(u, h.units) ? "not run yet" : `${u.active}/${u.sub}`;
      ctx.out.result(`  ${u.unit.padEnd(36)} ${state}${u.usage ? `  ${describeUsage(u.usage)}` : ""}`);
    }
    for (const t of h.timers) ctx.out.result(`  ${t.timer.padEnd(36)} next ${t.next || "-"}`);
    if (h.watchdog) ctx.out.result(`  watchdog restarted the hung web slot ${h.watchdog.restarts} time${h.watchdog.restarts === 1 ? "" : "s"}, last at ${h.watchdog.last}`);
    if (h.standby) ctx.out.result(`  standby ${h.standby.release} on ${h.standby.port} until ${h.standby.until}, ${h.standby.memoryBytes === null ? "memory unknown" : formatBytes(h.standby.memoryBytes)} (a rollback to it starts nothing)`);
  }
  if (s.addons.length) {
    const { printAddonStatus } = await import("./addons.ts");
    for (const a of s.addons) printAddonStatus(ctx, a);
  }
  if (!s.drift) return 0;
  const parts = Object.entries(s.drift).map(([id, hosts]) => `${id} on ${hosts.join(", ")}`);
  ctx.out.error(`drift: the hosts run different releases (${parts.join("; ")}); push or roll back the environment to bring them together`);
  // [[notify]] targets that hear "drift" are told (a cron'd `qdeploy status` is a drift alarm).
  if (cfg.notify.some((t) => !t.events || t.events.includes("drift"))) {
    const notes = await environmentNotifier(opContext(ctx, cfg));
    notes.send({ event: "drift", drift: s.drift });
    await notes.settle();
  }
  return 1;
}

/** `qdeploy logs ENV [PROCESS] [-f] [--since T]`: the journal of the app's units, host-prefixed. */
export async function logs(ctx: Ctx, env: string, o: hostCommands.LogOptions, filter: HostFilter = {}): Promise<void> {
  const cfg = await loadEnvironment(ctx, env);
  // Straight to stdout (no timestamp, as the journal has its own), so redacted here.
  await hostCommands.logs(opContext(ctx, cfg), o, (host, line) => process.stdout.write(`${host} ${ctx.redactor.redact(line)}\n`), filter);
}

/** `qdeploy restart ENV [PROCESS]`: the zero-downtime restart the timer runs, host wave by wave. */
export async function restart(ctx: Ctx, env: string, proc: string | null, filter: HostFilter = {}): Promise<void> {
  const cfg = await loadEnvironment(ctx, env);
  const r = await hostCommands.restart(opContext(ctx, cfg), proc, filter);
  for (const h of r.hosts) ctx.out.result(`${h} restarted ${proc ?? "all processes"}`);
}

/** `qdeploy exec ENV -- CMD...`: a one-off command with the live release's environment; its exit status. */
export async function execCommand(ctx: Ctx, env: string, argv: string[], where: { hostNumber?: number; filter?: HostFilter } = {}): Promise<number> {
  const cfg = await loadEnvironment(ctx, env);
  const many = Boolean(where.filter?.hosts?.length || where.filter?.role) && cfg.hosts.length > 1;
  // On several hosts each line says where it came from; on one the output is the command's own.
  const prefix = (write: (s: string) => void) => {
    const midLine = new Set<string>();
    return (chunk: string, host: string) => {
      if (!many) return write(chunk);
      const start = midLine.has(host) ? "" : `${host} `;
      write(start + chunk.replace(/\n(?=.)/gs, `\n${host} `));
      if (chunk.endsWith("\n")) midLine.delete(host);
      else midLine.add(host);
    };
  };
  return hostCommands.exec(opContext(ctx, cfg), argv, { stdout: prefix((s) => process.stdout.write(s)), stderr: prefix((s) => process.stderr.write(s)) }, where);
}

/** `qdeploy lock status|release ENV`: one line per host (`{hosts: [{host, state}]}` with --json). */
export async function lock(ctx: Ctx, env: string, cmd: "status" | "release", filter: HostFilter = {}): Promise<void> {
  const cfg = await loadEnvironment(ctx, env);
  const hosts = await hostCommands.lock(opContext(ctx, cfg), cmd, filter);
  ctx.out.data({ hosts });
  for (const h of hosts) ctx.out.result(`${h.host} ${h.state}`);
}
