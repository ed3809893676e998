/** restart, logs, exec and lock over the environment's hosts (or those --hosts/--role keep). */
import { OperationError, UsageError } from "../errors.ts";
import { layout, unitNames, unitPatterns } from "../server-layout.ts";
import { switchCommands } from "../server-commands.ts";
import { hostProcesses } from "../plan/fleet.ts";
import { hostConcurrency, planWaves } from "../plan/waves.ts";
import { lockCommand } from "../remote/host-ops.ts";
import { loadSecrets } from "../secrets/store.ts";
import type { HostAddress } from "../config/types.ts";
import { lineSplitter } from "../util/lines.ts";
import type { OpContext } from "./context.ts";
import { type HostFilter, selectHosts, withConnections } from "./sessions.ts";

/**
 * Has the edge hide the store's secret values from what an operation reports (a journal
 * tail, an app's log line): the store as it is now, or none when it cannot be read here (a CI
 * without the key still rolls back and reads logs).
 */
export async function hideStoredSecrets(op: OpContext): Promise<void> {
  try {
    op.redactor.hide(Object.values(await loadSecrets(op.cfg, { identityFile: op.identityFile })));
  } catch (e) {
    op.events({ type: "debug", line: `secrets not loaded, so not redacted from the output (${(e as Error).message.split("\n")[0]})` });
  }
}

function requireProcess(op: OpContext, proc: string | null, also: string[] = []): void {
  if (proc && op.cfg.processes[proc] === undefined && !also.includes(proc)) {
    throw new UsageError(`no process "${proc}" (processes: ${Object.keys(op.cfg.processes).join(", ")})`);
  }
}

/**
 * `qdeploy restart ENV [PROCESS]`: the zero-downtime restart the timer runs, wave by wave as
 * a push switches (one host, then the rest, by default), stopping at the first failure.
 * Hosts that do not run PROCESS are left alone.
 */
export async function restart(op: OpContext, proc: string | null, filter: HostFilter = {}): Promise<{ hosts: string[] }> {
  requireProcess(op, proc);
  // A failed restart prints the unit's journal tail, which may hold a secret.
  await hideStoredSecrets(op);
  return restartHosts(op, proc, filter);
}

async function restartHosts(op: OpContext, proc: string | null, filter: HostFilter): Promise<{ hosts: string[] }> {
  const hosts = selectHosts(op.cfg, filter).filter((h) => !proc || hostProcesses(op.cfg, h).includes(proc));
  if (!hosts.length) throw new UsageError(`no host of ${op.cfg.env} runs ${proc}`);
  // Who asked goes into the hosts' audit logs ("" for the process: all of them).
  const argv = switchCommands(op.cfg.app).restart(proc, op.who);
  return withConnections(hosts, op.connect, async (connections) => {
    const done: string[] = [];
    for (const wave of planWaves(connections, op.cfg.rollout)) {
      const settled = await Promise.allSettled(
        wave.map(async ({ host, remote }) => {
          const lines = lineSplitter((line) => op.events({ type: "host", host: host.label, line }));
          await remote.exec(argv, { onStdout: lines.push });
          lines.flush();
          op.events({ type: "host", host: host.label, line: `restarted ${proc ?? "all processes"}` });
        }),
      );
      settled.forEach((s, i) => s.status === "fulfilled" && done.push(wave[i]!.host.label));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
      if (failed) {
        const rest = hosts.filter((h) => !done.includes(h.label)).map((h) => h.label);
        throw new OperationError(`restart stopped: ${(failed.reason as Error).message}\n  restarted: ${done.join(", ") || "none"}; not restarted: ${rest.join(", ")}`);
      }
    }
    return { hosts: done };
  }, hostConcurrency(op.cfg.rollout));
}

export interface LogOptions {
  proc: string | null;
  follow: boolean;
  since: string | null;
  lines: number;
  /** Aborting closes each host's journalctl channel (a client of `logs -f` over HTTP went away). */
  signal?: AbortSignal;
}

/** `qdeploy logs ENV [PROCESS]`: the journal of the app's units on each host, line by line, for the caller to redact with op.redactor. */
export async function logs(op: OpContext, o: LogOptions, onLine: (host: string, line: string) => void, filter: HostFilter = {}): Promise<void> {
  const cfg = op.cfg;
  requireProcess(op, o.proc, ["restart"]);
  // Exact patterns (APP-PROC@*.service), never APP-*: that would match app "APP-api"'s units.
  const patterns =
    o.proc === "restart"
      ? [unitNames.restartService(cfg.app)]
      : o.proc
        ? unitPatterns(cfg.app, [o.proc], [], false)
        : unitPatterns(cfg.app, Object.keys(cfg.processes), cfg.jobs.map((j) => j.name), !!cfg.restart, (cfg.web?.watchdogSec ?? 0) > 0);
  const argv = ["journalctl", ...patterns.flatMap((p) => ["-u", p]), "--no-pager", "-o", "short-iso", ...(o.follow ? ["-f"] : []), ...(o.since ? ["--since", o.since] : ["-n", String(o.lines)])];
  await hideStoredSecrets(op);
  await withConnections(selectHosts(cfg, filter), op.connect, (connections) =>
    Promise.all(
      connections.map(async ({ host, remote }) => {
        const lines = lineSplitter((line) => onLine(host.label, line));
        await remote.exec(argv, { onStdout: lines.push, ...(o.signal && { signal: o.signal }) });
        lines.flush();
      }),
    ),
  );
}

export interface ExecIo {
  stdout: (chunk: string, host: string) => void;
  stderr: (chunk: string, host: string) => void;
}

/**
 * `qdeploy exec ENV -- CMD...`: a one-off command with the live release's environment, on
 * one host (--host N, default the first), or on each host --hosts/--role keep, one after
 * another. Returns the highest exit status.
 */
export async function exec(op: OpContext, argv: string[], io: ExecIo, where: { hostNumber?: number; filter?: HostFilter } = {}): Promise<number> {
  if (!argv.length) throw new UsageError("usage: qdeploy exec ENV -- COMMAND [ARGS...]");
  const hosts = execHosts(op.cfg, where);
  let worst = 0;
  for (const host of hosts) {
    const code = await withConnections([host], op.connect, async ([c]) => {
      const r = await c!.remote.exec(switchCommands(op.cfg.app).exec(argv), {
        check: false,
        onStdout: (chunk) => io.stdout(chunk, host.label),
        onStderr: (chunk) => io.stderr(chunk, host.label),
      });
      return r.code;
    });
    worst = Math.max(worst, code);
  }
  return worst;
}

/** Where `exec` (and `exec -it`) runs: the hosts --hosts/--role keep, else host #N (default the first). */
export function execHosts(cfg: OpContext["cfg"], where: { hostNumber?: number; filter?: HostFilter }): HostAddress[] {
  if (where.filter?.hosts?.length || where.filter?.role) return selectHosts(cfg, where.filter);
  const host = cfg.hosts[(where.hostNumber ?? 1) - 1];
  if (host === undefined) throw new UsageError(`environment ${cfg.env} has no host #${where.hostNumber}`);
  return [host];
}

/** `qdeploy lock status|release ENV`: one line per host. */
export async function lock(op: OpContext, cmd: "status" | "release", filter: HostFilter = {}): Promise<{ host: string; state: string }[]> {
  return withConnections(selectHosts(op.cfg, filter), op.connect, (connections) =>
    Promise.all(connections.map(async ({ host, remote }) => ({ host: host.label, state: await lockCommand(remote, op.cfg.app, cmd) }))),
  );
}
