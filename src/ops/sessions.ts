/**
 * Hosts and their connections as one value each (HostSession), instead of arrays matched by
 * index; which hosts a command touches (--hosts, --role); connecting and locking them all.
 */
import type { HostAddress, ResolvedConfig } from "../config/types.ts";
import { OperationError, RemoteError, UsageError } from "../errors.ts";
import { factWarnings, type HostFacts } from "../plan/facts.ts";
import { hostProcesses } from "../plan/fleet.ts";
import { DEFAULT_CONCURRENCY, hostConcurrency } from "../plan/waves.ts";
import { type FlipAttempt, lockAndGatherFacts } from "../remote/host-ops.ts";
import type { EarlyBlobs } from "../remote/run-plan.ts";
import type { Remote } from "../remote/remote.ts";
import { sudoAdvice } from "../remote/sudo.ts";
import { settleLimited } from "../util/limiter.ts";
import type { Connect, OpContext } from "./context.ts";

/** A host with its open connection. */
export interface Connection {
  host: HostAddress;
  remote: Remote;
}

/** A host, its connection and what it reported under the deploy lock. */
export interface HostSession extends Connection {
  facts: HostFacts;
  /** What the host's rollback to its warm standby did under the lock (withLockedSessions' flip). */
  flip?: FlipAttempt;
  /** The blobs a push sent while it took the lock (./early-upload.ts). */
  early?: EarlyBlobs;
}

/** --hosts and --role: which hosts of the environment a command touches. */
export interface HostFilter {
  /** Hosts by label (`deploy@10.0.0.1:22`), address (`10.0.0.1`) or `address:port`. */
  hosts?: string[];
  /** Hosts that run this process (a role). */
  role?: string;
}

/** The environment's hosts the filter keeps, in deploy.toml's order; a name that matches none is a usage error. */
export function selectHosts(cfg: ResolvedConfig, filter: HostFilter = {}): HostAddress[] {
  let hosts = cfg.hosts;
  if (filter.role !== undefined) {
    const role = filter.role;
    if (cfg.processes[role] === undefined) {
      throw new UsageError(`no role "${role}" in ${cfg.env} (roles are process names: ${Object.keys(cfg.processes).join(", ") || "none"})`);
    }
    hosts = hosts.filter((h) => hostProcesses(cfg, h).includes(role));
  }
  if (filter.hosts?.length) {
    const names = filter.hosts;
    for (const n of names) {
      if (!cfg.hosts.some((h) => hostMatches(h, n))) {
        throw new UsageError(`no host "${n}" in ${cfg.env} (hosts: ${cfg.hosts.map((h) => h.label).join(", ")})`);
      }
    }
    hosts = hosts.filter((h) => names.some((n) => hostMatches(h, n)));
  }
  if (hosts.length === 0) throw new UsageError(`no host of ${cfg.env} is both in --hosts and runs role ${filter.role}`);
  return hosts;
}

function hostMatches(h: HostAddress, name: string): boolean {
  return name === h.label || name === h.host || (h.port !== undefined && name === `${h.host}:${h.port}`);
}

/**
 * Connects to every host, at most `limit` handshakes at once (each connection stays open);
 * if any fails, starts no more, closes the others and throws the first failure.
 */
export async function openConnections(hosts: HostAddress[], connect: Connect, limit = DEFAULT_CONCURRENCY): Promise<Connection[]> {
  const failures: unknown[] = [];
  const settled = await settleLimited(hosts, limit, async (host) => {
    if (failures.length) return null; // one host is unreachable: the push stops, so reach no more
    try {
      return { host, remote: await connect(host) };
    } catch (e) {
      failures.push(e);
      throw e;
    }
  });
  const ok = settled.flatMap((s) => (s.status === "fulfilled" && s.value ? [s.value] : []));
  if (failures.length) {
    await Promise.allSettled(ok.map((c) => c.remote.close()));
    throw failures[0];
  }
  return ok;
}

/** Connects to these hosts (at most `limit` handshakes at once), runs f, closes every connection whatever happens. */
export async function withConnections<T>(hosts: HostAddress[], connect: Connect, f: (connections: Connection[]) => Promise<T>, limit = DEFAULT_CONCURRENCY): Promise<T> {
  const connections = await openConnections(hosts, connect, limit);
  try {
    return await f(connections);
  } finally {
    await Promise.all(connections.map((c) => c.remote.close().catch(() => {})));
  }
}

/** Seconds spent reaching the hosts, for the push summary and the benchmark. */
export interface SessionTimes {
  connect: number;
  /** Taking every host's deploy lock and reading its facts, one round trip. */
  lockAndFacts: number;
}

/**
 * Connects, takes the deploy lock on every host and reads its facts under it, runs f, and
 * always lets every lock go (a lock taken on one host is released when another host fails).
 * At most rollout.concurrency handshakes, and lock-and-facts round trips, at once; every
 * connection and lock is held until f ends. With `flip` (a rollback: the release it names, or
 * null), each host first tries the rollback to its warm standby in that same round trip.
 * `onConnected` gets the connections before the locks are asked for (a push's early upload).
 */
export async function withLockedSessions<T>(
  op: OpContext,
  hosts: HostAddress[],
  f: (sessions: HostSession[], times: SessionTimes) => Promise<T>,
  flip?: string | null,
  onConnected?: (connections: Connection[]) => void,
): Promise<T> {
  const times: SessionTimes = { connect: 0, lockAndFacts: 0 };
  let t = performance.now();
  const lap = () => {
    const now = performance.now();
    const s = (now - t) / 1000;
    t = now;
    return s;
  };
  const limit = hostConcurrency(op.cfg.rollout);
  return withConnections(hosts, op.connect, async (connections) => {
    times.connect = lap();
    onConnected?.(connections);
    // Said once every host's lock is held, before the facts (and a rollback's flip) come back:
    // `qdeploy serve` answers a run's request then.
    let locked = 0;
    let said = false;
    const sayLocked = () => {
      if (said) return;
      said = true;
      op.events({ type: "locked", hosts: connections.map((c) => c.host.label) });
    };
    op.events({ type: "debug", line: `connected to ${connections.length} host(s) in ${times.connect.toFixed(2)}s` });
    const unlocks: (() => Promise<void>)[] = [];
    try {
      const failures: unknown[] = [];
      const held = await settleLimited(connections, limit, async (c) => {
        if (failures.length) return null; // a host refused its lock: take no more
        try {
          return await lockAndGatherFacts(c.remote, c.host, op.cfg.app, op.who, op.lockWaitSec, {
            flip,
            onLocked: () => ++locked === connections.length && sayLocked(),
            onWaiting: (holder) => op.events({ type: "host", host: c.host.label, line: `waiting up to ${op.lockWaitSec}s (--lock-wait) for the deploy lock, held by ${holder}` }),
          });
        } catch (e) {
          failures.push(e);
          throw e;
        }
      });
      for (const h of held) if (h.status === "fulfilled" && h.value) unlocks.push(h.value.unlock);
      if (failures.length) throw failures[0];
      const sessions = connections.map((c, i) => {
        const { facts, flip } = (held[i] as PromiseFulfilledResult<{ facts: HostFacts; flip?: FlipAttempt }>).value;
        return { ...c, facts, ...(flip ? { flip } : {}) };
      });
      for (const s of sessions) requireSystemd(s.facts, op.cfg.env);
      for (const w of sessions.flatMap((s) => factWarnings(s.facts, op.cfg.app))) op.events({ type: "warn", line: w });
      times.lockAndFacts = lap();
      sayLocked();
      return await f(sessions, times);
    } finally {
      await Promise.all(unlocks.map((u) => u()));
    }
  }, limit);
}

/** qdeploy runs apps as systemd units, as root or through `sudo -n`: a host without either is refused. */
export function requireSystemd(f: HostFacts, env?: string): void {
  if (!f.systemd) throw new RemoteError(f.host.label, "systemd is not running on this host (qdeploy runs apps as systemd units)");
  // A login other than root works through `sudo -n` (src/remote/sudo.ts); facts say whether it can.
  if (f.user !== "root" && !f.sudo) throw new OperationError(`${f.host.label}: user ${f.user} is not root and cannot run commands as root with sudo -n; ${sudoAdvice(f.user, env)}`);
}
