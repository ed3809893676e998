/** push and rollback: read the hosts under their locks, plan purely, execute wave by wave. */
import { randomBytes } from "node:crypto";
import type { ResolvedConfig } from "../config/types.ts";
import type { HostFacts } from "../plan/facts.ts";
import { planPush } from "../plan/push.ts";
import { releaseId } from "../plan/release.ts";
import { hostConcurrency } from "../plan/waves.ts";
import { hostConfig } from "../plan/fleet.ts";
import { planRemoteHook } from "../plan/release-phase.ts";
import { runRemoteHook } from "../remote/run-plan.ts";
import { settleLimited } from "../util/limiter.ts";
import { planRollback } from "../plan/rollback.ts";
import { loadSecrets } from "../secrets/store.ts";
import { buildDir, type Builds, buildForArchs } from "../build/builds.ts";
import type { PromotedFrom } from "../plan/release.ts";
import { siteUrls } from "./site-urls.ts";
import { checkAddonVars, provisionAddons, reportUnwired } from "./addons.ts";
import type { OpContext } from "./context.ts";
import { executePlan, type HostResult } from "./execute.ts";
import { RemoteError } from "../errors.ts";
import { hideStoredSecrets } from "./host-commands.ts";
import { writeSlugPacks } from "./slug-packs.ts";
import { sendEarly } from "./early-upload.ts";
import { lastKnownArchs, lastSent, recordSent, rememberArchs, type SentRecord } from "./host-records.ts";
import type { EarlyBlobs } from "../remote/run-plan.ts";
import { type Connection, type HostFilter, type HostSession, selectHosts, type SessionTimes, withLockedSessions } from "./sessions.ts";

export interface DeployOptions {
  /** Only these hosts (--hosts, --role); the others keep what they run (`status` shows the drift). */
  filter?: HostFilter;
  /** After a failed wave, switch the hosts already switched back (default true; --no-revert). */
  revert?: boolean;
  /**
   * A push's last word before any release is written (the pre_deploy hook): built, planned,
   * the hosts locked. A throw stops the push there.
   */
  beforeRelease?: (release: string, commit: string | null) => Promise<void>;
  /**
   * A promotion (src/ops/promote.ts): the programs and files come from another environment's
   * release, given the hosts' facts so only what they lack is fetched; nothing is built.
   */
  promote?: { from: PromotedFrom; builds: (facts: HostFacts[]) => Promise<Builds> };
  /** [hooks] remote_post_deploy on the hosts once the push is live (default true; --no-hooks: false). */
  remoteHooks?: boolean;
}

/** What a push or rollback did, for the summary, --json and the benchmark. */
export interface DeployReport {
  action: "push" | "rollback" | "promote";
  release: string;
  /** The commit the release was built from (git sha, "-dirty" when the tree had changes), when known. */
  commit: string | null;
  seconds: SessionTimes & { build: number; total: number };
  /** Host labels, wave by wave. */
  waves: string[][];
  hosts: HostResult[];
  urls: string[];
}

/** `qdeploy push ENV`: build, upload to every host, switch wave by wave. */
export async function push(op: OpContext, opts: DeployOptions = {}): Promise<DeployReport> {
  const t0 = performance.now();
  const hosts = selectHosts(op.cfg, opts.filter);
  const cfg: ResolvedConfig = { ...op.cfg, hosts };
  // Secrets first: a missing key fails before any host is touched. A build or a unit's journal
  // may echo one: the edge hides them from what it shows.
  const secrets = await loadSecrets(op.cfg, { identityFile: op.identityFile });
  op.redactor.hide(Object.values(secrets));
  checkAddonVars(secrets, op.cfg.addons);
  const build = op.build ?? buildForArchs;
  // The build needs the hosts' architectures, which the facts tell; with the ones the last
  // push saw, it starts now and runs while the hosts are reached and locked.
  const guess = opts.promote ? null : await lastKnownArchs(cfg);
  const early = guess ? settle(build(cfg, guess, op.events)) : null;
  // Each host's changed binary goes while the locks are taken (./early-upload.ts), at most
  // rollout.concurrency hosts at a time, as the plan's own uploads go.
  const last = early ? await lastSent(cfg, hosts.map((h) => h.label)) : new Map<string, SentRecord>();
  let sentEarly: Promise<Map<string, EarlyBlobs>> | undefined;
  const sendBeside = (connections: Connection[]) => {
    if (!early) return;
    const built = early.then((b) => (b.ok ? b.value : null));
    const sending = connections.filter((c) => last.has(c.host.label));
    // sendEarly never rejects: a host it could not send to gets the plan's upload.
    sentEarly = settleLimited(sending, hostConcurrency(cfg.rollout), (c) => sendEarly(cfg, c.remote, last.get(c.host.label)!, built, op.events)).then(
      (done) => new Map(done.flatMap((d, i) => (d.status === "fulfilled" ? [[sending[i]!.host.label, d.value] as const] : []))),
    );
  };
  return withLockedSessions(op, hosts, async (locked, times) => {
    // While the build runs: the add-ons' URLs go into every release's env file, so the
    // release phase migrates the real database before any host switches.
    const addons = await provisionAddons(op, locked);
    reportUnwired(op, locked);
    const tb = performance.now();
    const facts = locked.map((s) => s.facts);
    const archs = [...new Set(facts.map((f) => f.arch))];
    const earlyBuild = early ? await early : null;
    const builds = opts.promote
      ? await opts.promote.builds(facts)
      : guess && earlyBuild && archs.every((a) => guess.includes(a))
        ? unwrap(earlyBuild)
        : await build(cfg, archs, op.events);
    await rememberArchs(cfg, facts);
    const packs = builds.slug ? await writeSlugPacks(builds.slug, facts, builds.artifacts, buildDir(op.cfg)) : {};
    const buildSec = (performance.now() - tb) / 1000;
    // The blobs sent early are planned as uploads, which the executor finds done (the facts
    // may have seen them already).
    const sent = sentEarly ? await sentEarly : new Map<string, EarlyBlobs>();
    const sessions = locked.map((s) => (sent.has(s.host.label) ? { ...s, early: sent.get(s.host.label) } : s));
    const now = new Date();
    const plan = planPush({
      config: op.cfg,
      facts: sessions.map((s) => (s.early ? { ...s.facts, blobs: s.facts.blobs.filter((b) => !s.early!.has(b)) } : s.facts)),
      artifacts: builds.artifacts,
      releaseId: uniqueReleaseId(now, facts),
      created: now.toISOString(),
      git: builds.git,
      who: op.who,
      secrets: { ...secrets, ...addons.vars },
      newDigestKey: newDigestKey(),
      slug: builds.slug,
      packs,
      ...(opts.promote && { from: opts.promote.from }),
    });
    for (const hp of plan.hosts) for (const n of hp.notes) op.events({ type: "host", host: hp.host.label, line: n });
    await opts.beforeRelease?.(plan.release!, builds.git);
    const run = await executePlan(plan, sessions, { rollout: op.cfg.rollout, concurrency: hostConcurrency(op.cfg.rollout), revert: opts.revert ?? true, who: op.who, events: op.events });
    // A record that cannot be written costs the next push its early upload, not this push.
    await recordSent(cfg, sentRecords(sessions, builds, run.hosts)).catch((e: unknown) => op.events({ type: "debug", line: `not recorded for the next push's early upload: ${e instanceof Error ? e.message : String(e)}` }));
    if (opts.remoteHooks !== false) await runRemoteHooks(op, sessions, run.release);
    return { action: "push", release: run.release, commit: builds.git, seconds: { ...times, build: buildSec, total: (performance.now() - t0) / 1000 }, waves: run.waves, hosts: run.hosts, urls: await siteUrls(op.cfg) };
  }, undefined, sendBeside);
}

/**
 * `qdeploy rollback ENV [RELEASE]`: no build, no upload, the same health-gated switch, wave by
 * wave. One host inside web.standby's window flips back to its warm standby in the round trip
 * that takes the lock (a fleet goes wave by wave, so its hosts never flip before their wave).
 */
export async function rollback(op: OpContext, named: string | null, opts: DeployOptions = {}): Promise<DeployReport> {
  const t0 = performance.now();
  const hosts = selectHosts(op.cfg, opts.filter);
  // The target's units can fail their health check and print a journal tail: hide secrets there too.
  await hideStoredSecrets(op);
  const flip = hosts.length === 1 ? named : undefined;
  return withLockedSessions(
    op,
    hosts,
    async (sessions, times) => {
      const seconds = () => ({ ...times, build: 0, total: (performance.now() - t0) / 1000 });
      // The commit a release was built from, by its record on the hosts.
      const commit = (release: string) => sessions.flatMap((s) => s.facts.releases).find((r) => r.id === release)?.git ?? null;
      const flipped = sessions[0]?.flip ? flipResult(op, sessions[0]) : null;
      if (flipped) return { action: "rollback", release: flipped.live!, commit: commit(flipped.live!), seconds: seconds(), waves: [[flipped.label]], hosts: [flipped], urls: await siteUrls(op.cfg) };
      const plan = planRollback(op.cfg, sessions.map((s) => s.facts), named, op.who);
      op.events({ type: "info", line: `rolling back ${op.cfg.app} (${op.cfg.env}) to ${plan.release}` });
      for (const hp of plan.hosts) for (const n of hp.notes) op.events({ type: "host", host: hp.host.label, line: n });
      const run = await executePlan(plan, sessions, { rollout: op.cfg.rollout, concurrency: hostConcurrency(op.cfg.rollout), revert: opts.revert ?? true, who: op.who, events: op.events });
      return { action: "rollback", release: run.release, commit: commit(run.release), seconds: seconds(), waves: run.waves, hosts: run.hosts, urls: await siteUrls(op.cfg) };
    },
    flip,
  );
}

/**
 * [hooks] remote_post_deploy on every host of the push, now that all of them are live on
 * `release` (a failed rollout threw before this): at once, each host's failure reported as an
 * error line, none undoing anything.
 */
async function runRemoteHooks(op: OpContext, sessions: HostSession[], release: string): Promise<void> {
  let hooks;
  try {
    hooks = sessions.flatMap((s) => {
      const hook = planRemoteHook(hostConfig(op.cfg, s.host), release, s.host.label);
      return hook ? [{ s, hook }] : [];
    });
  } catch (e) {
    // `check` refuses a command that cannot run; this is the push's end: say it, change nothing.
    op.events({ type: "error", line: `hook remote_post_deploy: ${e instanceof Error ? e.message : String(e)}; the push itself is live` });
    return;
  }
  if (!hooks.length) return;
  op.events({ type: "info", line: `hook remote_post_deploy on ${hooks.length} host${hooks.length === 1 ? "" : "s"}: ${hooks[0]!.hook.command}` });
  await settleLimited(hooks, hostConcurrency(op.cfg.rollout), async ({ s, hook }) => {
    const failed = await runRemoteHook(s.remote, hook, op.events).catch((e: unknown) => `hook remote_post_deploy could not run: ${e instanceof Error ? e.message : String(e)}`);
    if (failed) op.events({ type: "error", line: `${s.host.label}: ${failed}; the push itself is live` });
  });
}

/**
 * What a host's flip to its warm standby did: null when there was none to flip to (nothing
 * changed; the rollback goes the usual way); the host's result when it flipped; an error
 * saying where the host is when the switch failed.
 */
function flipResult(op: OpContext, s: HostSession): HostResult | null {
  const { code, lines } = s.flip!;
  // A switch an older qdeploy installed has no flip verb: it stopped at its usage line, having
  // changed nothing, and the usual rollback installs this one first (planRollback).
  if (code === FLIP_NOTHING || lines.some((l) => l.startsWith("error: usage: switch "))) return null;
  // A standby is the release live before the one it replaced: there always is one.
  const before = /^(\S+) -> \S+ \(the standby\)$/m.exec(lines.join("\n"))?.[1] ?? null;
  if (code === 0) {
    op.events({ type: "info", line: `rolling back ${op.cfg.app} (${op.cfg.env}) to ${s.facts.live} (the standby)` });
    for (const line of lines) op.events({ type: "host", host: s.host.label, line });
    return { label: s.host.label, outcome: "live", before, live: s.facts.live, bytesSent: 0, seconds: { setup: 0, upload: 0, release: 0 } };
  }
  for (const line of lines) op.events({ type: "host", host: s.host.label, line });
  const error = lines.filter((l) => l.startsWith("error: ")).map((l) => l.slice(7)).join("; ") || `exit ${code}`;
  throw new RemoteError(s.host.label, `the rollback to the standby failed: ${error}; live: ${s.facts.live ?? "none"}`, { code });
}

/** `switch flip`'s exit when there is no standby to flip to (server/switch.sh). */
const FLIP_NOTHING = 3;

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** What each host the push went live on now has of each binary, for the next push's early upload. */
function sentRecords(sessions: HostSession[], builds: Builds, hosts: HostResult[]): { label: string; record: SentRecord }[] {
  const live = new Set(hosts.filter((h) => h.outcome === "live").map((h) => h.label));
  return sessions.flatMap((s) => {
    const binaries = builds.artifacts[s.facts.arch]?.binaries;
    if (!live.has(s.host.label) || !binaries) return [];
    const record: SentRecord = { arch: s.facts.arch, compression: s.facts.zstd ? "zstd" : "gzip", binaries: Object.fromEntries(Object.entries(binaries).map(([n, b]) => [n, b.sha256])) };
    return [{ label: s.host.label, record }];
  });
}

/** A promise that never rejects, so it may wait unobserved while other work runs. */
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then((value) => ({ ok: true as const, value }), (error) => ({ ok: false as const, error }));
}

function unwrap<T>(s: Settled<T>): T {
  if (!s.ok) throw s.error;
  return s.value;
}

/** A fresh key for release.json's config digest, used by a host that has none yet. */
export function newDigestKey(): string {
  return randomBytes(32).toString("hex");
}

/** A release id later than every one on the hosts (two pushes in one second stay apart). */
export function uniqueReleaseId(now: Date, facts: HostFacts[]): string {
  let id = releaseId(now);
  const newest = facts.flatMap((f) => f.releases.map((r) => r.id)).sort().at(-1);
  if (newest && newest >= id) id = String(BigInt(newest) + 1n);
  return id;
}
