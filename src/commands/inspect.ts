/** releases, status, logs, restart, exec, lock: day-to-day commands over the same connections. */
import { UsageError } from "../errors.ts";
import { lineSplitter } from "../output.ts";
import { factWarnings } from "../plan/facts.ts";
import { layout, unitNames, unitPatterns } from "../plan/layout.ts";
import { rollbackTarget } from "../plan/push.ts";
import { gatherFacts, lockCommand } from "../remote/host-ops.ts";
import { type Ctx, loadEnvironment, withRemotes } from "./context.ts";
import { hider, hidingIn, redactErrors, secretsToHide } from "./redaction.ts";

/** `qdeploy releases ENV`: every host's releases, the live one marked. */
export async function releases(ctx: Ctx, env: string): Promise<void> {
  const cfg = await loadEnvironment(ctx, env);
  await withRemotes(cfg, ctx, async (remotes) => {
    const facts = await Promise.all(remotes.map((r, i) => gatherFacts(r, cfg.hosts[i]!, cfg.app)));
    for (const w of facts.flatMap((f) => factWarnings(f, cfg.app))) ctx.out.warn(w);
    ctx.out.data(facts.map((f) => ({ host: f.host.label, live: f.live, releases: f.releases.map((r) => ({ ...r, live: r.id === f.live })) })));
    for (const f of facts) {
      ctx.out.result(`${f.host.label}`);
      const target = rollbackTarget(f.releases, f.live, f.history)?.id;
      for (const r of [...f.releases].reverse()) {
        const mark = r.id === f.live ? "live    " : r.id === target ? "previous" : r.activated ? "        " : "refused ";
        ctx.out.result(`  ${mark} ${r.id}  ${r.created.slice(0, 19)}Z  git ${(r.git ?? "-").slice(0, 12).padEnd(12)}  ${describeBinaries(r)}  by ${r.by}`);
      }
      if (!f.releases.length) ctx.out.result("  (no releases)");
    }
  });
}

/** `sha256 abc...` for one binary (and releases of older versions); `web abc..., worker def...` for several. */
export function describeBinaries(r: { sha256: string; binaries?: Record<string, string> }): string {
  const all = Object.entries(r.binaries ?? {});
  const distinct = new Set(all.map(([, sha]) => sha));
  if (all.length === 0 || distinct.size === 1) return `sha256 ${r.sha256.slice(0, 12)}`;
  return all.map(([name, sha]) => `${name} ${sha.slice(0, 12)}`).join(", ");
}

/** `qdeploy status ENV`: per host the live release, each unit's state, health, next timer runs. */
export async function status(ctx: Ctx, env: string): Promise<void> {
  const cfg = await loadEnvironment(ctx, env);
  const l = layout(cfg.app);
  await withRemotes(cfg, ctx, async (remotes) => {
    const reports = await Promise.all(
      remotes.map(async (r) => {
        const out = await r.exec(["sh", "-c", 'if [ -x "$1" ]; then exec "$1" status; fi', "sh", l.switchScript]);
        return { host: r.label, ...parseStatus(out.stdout) };
      }),
    );
    ctx.out.data(reports);
    for (const s of reports) {
      ctx.out.result(`${s.host}  live ${s.live ?? "(none)"}  slot ${s.slot ?? "-"}  health ${s.health ?? "-"}`);
      for (const u of s.units) ctx.out.result(`  ${u.unit.padEnd(36)} ${u.active}/${u.sub}`);
      for (const t of s.timers) ctx.out.result(`  ${t.timer.padEnd(36)} next ${t.next || "-"}`);
    }
  });
}

/** The `key=value` lines of `switch status`, as data. */
export function parseStatus(text: string) {
  const s = {
    live: null as string | null,
    slot: null as string | null,
    health: null as string | null,
    units: [] as { unit: string; active: string; sub: string }[],
    timers: [] as { timer: string; next: string }[],
  };
  for (const line of text.split("\n")) {
    const [key, ...rest] = line.split("=");
    const value = rest.join("=");
    if (key === "live" || key === "slot" || key === "health") s[key] = value || null;
    if (key === "unit") {
      const [unit, active, sub] = value.split(" ");
      s.units.push({ unit: unit!, active: active!, sub: sub! });
    }
    if (key === "timer") {
      const sp = value.indexOf(" ");
      s.timers.push({ timer: value.slice(0, sp), next: value.slice(sp + 1) });
    }
  }
  return s;
}

/** `qdeploy logs ENV [PROCESS] [-f] [--since T]`: the journal of the app's units, host-prefixed. */
export async function logs(ctx: Ctx, env: string, proc: string | null, follow: boolean, since: string | null, lines: number): Promise<void> {
  const cfg = await loadEnvironment(ctx, env);
  if (proc && !cfg.processes[proc] && proc !== "restart") throw new UsageError(`no process "${proc}" (processes: ${Object.keys(cfg.processes).join(", ")})`);
  // Exact patterns (APP-PROC@*.service), never APP-*: that would match app "APP-api"'s units.
  const patterns =
    proc === "restart"
      ? [unitNames.restartService(cfg.app)]
      : proc
        ? unitPatterns(cfg.app, [proc], [], false)
        : unitPatterns(cfg.app, Object.keys(cfg.processes), cfg.jobs.map((j) => j.name), !!cfg.restart);
  const argv = ["journalctl", ...patterns.flatMap((p) => ["-u", p]), "--no-pager", "-o", "short-iso", ...(follow ? ["-f"] : []), ...(since ? ["--since", since] : ["-n", String(lines)])];
  // An app that logs a secret must not have qdeploy print it.
  const hide = hider(await secretsToHide(cfg, ctx));
  await withRemotes(cfg, ctx, async (remotes) => {
    await Promise.all(
      remotes.map(async (r) => {
        const lines = lineSplitter((line) => process.stdout.write(`${r.label} ${hide(line)}\n`));
        await r.exec(argv, { onStdout: lines.push });
        lines.flush();
      }),
    );
  });
}

/** `qdeploy restart ENV [PROCESS]`: the zero-downtime restart the timer runs. */
export async function restart(ctx: Ctx, env: string, proc: string | null): Promise<void> {
  const cfg = await loadEnvironment(ctx, env);
  if (proc && !cfg.processes[proc]) throw new UsageError(`no process "${proc}" (processes: ${Object.keys(cfg.processes).join(", ")})`);
  // A failed restart prints the unit's journal tail, which may hold a secret.
  const hide = hider(await secretsToHide(cfg, ctx));
  ctx = hidingIn(ctx, hide);
  await redactErrors(hide, () => withRemotes(cfg, ctx, (remotes) =>
    Promise.all(
      remotes.map(async (r) => {
        const lines = lineSplitter((l) => ctx.out.host(r.label, l));
        await r.exec([layout(cfg.app).switchScript, "restart", ...(proc ? [proc] : [])], { onStdout: lines.push });
        lines.flush();
        ctx.out.result(`${r.label} restarted ${proc ?? "all processes"}`);
      }),
    ),
  ));
}

/** `qdeploy exec ENV -- CMD...`: a one-off command with the live release's environment. */
export async function execCommand(ctx: Ctx, env: string, argv: string[], hostIndex = 0): Promise<number> {
  if (!argv.length) throw new UsageError("usage: qdeploy exec ENV -- COMMAND [ARGS...]");
  const cfg = await loadEnvironment(ctx, env);
  const host = cfg.hosts[hostIndex];
  if (!host) throw new UsageError(`environment ${env} has no host #${hostIndex + 1}`);
  return withRemotes({ ...cfg, hosts: [host] }, ctx, async ([r]) => {
    const res = await r!.exec([layout(cfg.app).switchScript, "exec", ...argv], {
      check: false,
      onStdout: (c) => process.stdout.write(c),
      onStderr: (c) => process.stderr.write(c),
    });
    return res.code;
  });
}

/** `qdeploy lock status|release ENV` */
export async function lock(ctx: Ctx, env: string, cmd: "status" | "release"): Promise<void> {
  const cfg = await loadEnvironment(ctx, env);
  await withRemotes(cfg, ctx, (remotes) =>
    Promise.all(remotes.map(async (r) => ctx.out.result(`${r.label} ${await lockCommand(r, cfg.app, cmd)}`))),
  );
}
