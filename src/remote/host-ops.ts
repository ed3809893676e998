/** The few remote calls that are not plan steps: facts, the deploy lock. */
import { LockHeldError, RemoteError } from "../errors.ts";
import { type HostFacts, parseFacts } from "../plan/facts.ts";
import { bootstrapScript, factsScript, lockScript } from "../server-scripts.ts";
import type { HostAddress } from "../config/types.ts";
import type { Remote } from "./remote.ts";

/** Reads a host's facts in one round trip (works on a host qdeploy never touched). */
export async function gatherFacts(remote: Remote, host: HostAddress, app: string): Promise<HostFacts> {
  const r = await remote.exec(["bash", "-s", "--", app], { stdin: factsScript });
  return parseFacts(host, r.stdout);
}

/**
 * Takes the deploy lock on a host and holds it until the returned function is called.
 * The lock lives as long as this SSH channel: a push that dies frees it by itself.
 */
export async function acquireLock(remote: Remote, app: string, who: string, waitSec: number): Promise<() => Promise<void>> {
  return (await holdLock(remote, app, who, waitSec, null)).unlock;
}

/**
 * What `switch flip` did under the lock (a rollback of one host to its warm standby): code 0
 * flipped, 3 nothing there to flip to (nothing changed), else it failed; its output's lines.
 */
export interface FlipAttempt {
  code: number;
  lines: string[];
}

/** What lockAndGatherFacts does besides: a rollback's flip, and saying when the lock is held. */
export interface LockOptions {
  /** The release a rollback names, or null for the standby's own: the host first tries the rollback to its warm standby under the lock, no round trip before the flip. */
  flip?: string | null;
  /** Called once the lock is held, before the flip and the facts. */
  onLocked?: () => void;
  /** Called when another holds the lock and this one waits for it, with the holder's record. */
  onWaiting?: (holder: string) => void;
}

/** Takes the deploy lock and, in the same round trip, reads the host's facts under it. */
export async function lockAndGatherFacts(
  remote: Remote,
  host: HostAddress,
  app: string,
  who: string,
  waitSec: number,
  o: LockOptions = {},
): Promise<{ unlock: () => Promise<void>; facts: HostFacts; flip?: FlipAttempt }> {
  const { flip } = o;
  const { unlock, output } = await holdLock(remote, app, who, waitSec, factsScript, o);
  try {
    let rest = output.slice(output.indexOf("LOCKED") + 6);
    let attempt: FlipAttempt | undefined;
    if (flip !== undefined) {
      const m = /^::flip (\d+)$/m.exec(rest);
      if (!m) throw new RemoteError(remote.label, "the deploy lock's holder did not say what the flip to the standby did");
      attempt = { code: Number(m[1]), lines: rest.slice(0, m.index).split("\n").filter(Boolean) };
      rest = rest.slice(m.index + m[0].length);
    }
    return { unlock, facts: parseFacts(host, rest), ...(attempt ? { flip: attempt } : {}) };
  } catch (e) {
    await unlock();
    throw e;
  }
}

/**
 * A rollback's lock channel runs its flip to the warm standby (lock.sh sources switch.sh), at a
 * higher CPU priority than the apps: under load the flip's bash and flock otherwise queue
 * behind Caddy's and the app's threads. On the sandbox under wrk the flip took 191-398 ms
 * without it, 97-149 ms with it. Only this channel's processes: systemd starts every unit at
 * the unit's own priority, and a push's channels keep the default (its upload's tar and
 * sha256sum must not take the CPU from requests).
 */
export const FLIP_PRIORITY = ["nice", "-n", "-10"];

async function holdLock(remote: Remote, app: string, who: string, waitSec: number, facts: string | null, o: LockOptions = {}) {
  const { flip, onLocked: held, onWaiting } = o;
  const abort = new AbortController();
  let onLocked = () => {};
  const locked = new Promise<void>((resolve) => (onLocked = resolve));
  const ready = facts ? "::facts-end" : "LOCKED";
  let seen = "";
  let saidWaiting = false;
  const extra = facts ? [facts, ...(flip !== undefined ? [flip ?? ""] : [])] : [];
  const argv = ["bash", "-c", lockScript, "lock", app, "hold", who, String(waitSec), ...extra];
  const done = remote.exec(flip !== undefined ? [...FLIP_PRIORITY, ...argv] : argv, {
    keepStdinOpen: true,
    signal: abort.signal,
    check: false,
    onStdout: (chunk) => {
      const before = seen;
      seen += chunk;
      const waiting = !saidWaiting && !before.includes("LOCKED\n") && /^WAITING (.*)\n/m.exec(seen);
      if (waiting) {
        saidWaiting = true;
        onWaiting?.(waiting[1]!);
      }
      if (held && !before.includes("LOCKED\n") && seen.includes("LOCKED\n")) held();
      if (seen.includes(ready)) onLocked();
    },
  });
  const first = await Promise.race([locked.then(() => null), done]);
  if (first) {
    // nice says on stderr when it may not raise the priority (a container without
    // CAP_SYS_NICE), then runs the command all the same: not part of what the lock says.
    const msg = first.stderr.replace(/^nice: .*\n?/gm, "").trim() || `could not take the deploy lock (exit ${first.code})`;
    if (first.code !== 75) throw new RemoteError(remote.label, msg);
    const holder = /held by (.*?)(?: \(waited [^)]*\))?$/m.exec(msg)?.[1] ?? "unknown";
    throw new LockHeldError(`${remote.label}: ${msg}; see \`qdeploy lock status\``, holder);
  }
  const unlock = async () => {
    abort.abort();
    await done.catch(() => {});
  };
  return { unlock, output: seen.slice(0, seen.indexOf(ready)) };
}

/** `lock status` / `lock release` on one host: one line. */
export async function lockCommand(remote: Remote, app: string, cmd: "status" | "release"): Promise<string> {
  const r = await remote.exec(["bash", "-c", lockScript, "lock", app, cmd]);
  return r.stdout.trim();
}

/**
 * setup --bootstrap on one host, logged in as root (or a user with sudo): creates `user`
 * with these authorized public keys and its sudoers drop-in (server/bootstrap.sh). The keys
 * travel on stdin. Returns what it did, a line each.
 */
export async function bootstrapLoginUser(remote: Remote, user: string, publicKeys: string[]): Promise<string[]> {
  const r = await remote.exec(["bash", "-c", bootstrapScript, "bootstrap", user], { stdin: `${publicKeys.join("\n")}\n`, check: false });
  if (r.code !== 0) throw new RemoteError(remote.label, `bootstrapping user ${user} failed: ${r.stderr.trim() || `exit ${r.code}`}`, { code: r.code });
  return r.stdout.split("\n").filter(Boolean);
}
