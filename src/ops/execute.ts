/**
 * executePlan: the one place a plan's steps meet the hosts. Every host writes its release
 * (setup, uploads, release batch), rollout.concurrency hosts at a time; the release phase runs
 * once; a fleet of more than one wave then starts the release beside the live one on every
 * host (stage); then the hosts switch wave by wave (planWaves), every host of a wave at once,
 * each wave only once the one before is live and still healthy. When a host fails, no further wave
 * starts and the hosts this run switched go back to the release they had (policy.revert), and
 * the error says where every host is.
 */
import type { ResolvedConfig } from "../config/types.ts";
import { OperationError } from "../errors.ts";
import { switchCommands } from "../server-commands.ts";
import type { HostPlan, Plan, Step } from "../plan/steps.ts";
import { planWaves } from "../plan/waves.ts";
import { type EventSink, startTicker } from "../events.ts";
import { runBatch, runHostPlan, runReleasePhase } from "../remote/run-plan.ts";
import { parseStatus } from "../remote/switch-status.ts";
import { settleLimited } from "../util/limiter.ts";
import type { HostSession } from "./sessions.ts";

export interface RolloutPolicy {
  rollout: ResolvedConfig["rollout"];
  /** Hosts that write their release at once (rollout.concurrency or its default: src/plan/waves.ts hostConcurrency). */
  concurrency: number;
  /** After a failure, switch the hosts this run switched back to the release they had (--no-revert: leave them). */
  revert: boolean;
  /** Who reverts, for the hosts' audit logs. */
  who: string;
  events: EventSink;
  /** Waits between waves (tests pass one that does not). */
  sleep?: (seconds: number) => Promise<void>;
}

/**
 * Where a host ended: live on the plan's release, failed (its switch refused the release, or
 * it was unreachable), reverted to the release it had, revert-failed, not switched (a later
 * wave that never started), or kept (switched, and nothing earlier to go back to).
 */
export type HostOutcome = "live" | "failed" | "reverted" | "revert-failed" | "not-switched" | "kept";

export interface HostResult {
  label: string;
  outcome: HostOutcome;
  /** The release the host had before this run (null: none). */
  before: string | null;
  /** The release live on the host now, as far as this run knows. */
  live: string | null;
  /** Why it failed (outcome failed or revert-failed). */
  error?: string;
  bytesSent: number;
  seconds: { setup: number; upload: number; release: number };
}

export interface Execution {
  release: string;
  /** The hosts' labels, wave by wave. */
  waves: string[][];
  hosts: HostResult[];
}

/** A rollout that stopped part-way: the first failure, then where every host is. */
export class RolloutError extends OperationError {
  constructor(
    message: string,
    readonly hosts: HostResult[],
  ) {
    super(message);
  }
}

/** Runs a push or rollback plan on these sessions (matched to the plan's hosts by label). */
export async function executePlan(plan: Plan, sessions: HostSession[], policy: RolloutPolicy): Promise<Execution> {
  const release = plan.release;
  if (release === null) throw new Error("executePlan: a plan without a release");
  const byLabel = new Map(sessions.map((s) => [s.host.label, s]));
  const session = (hp: HostPlan) => {
    const s = byLabel.get(hp.host.label);
    if (!s) throw new Error(`executePlan: no session for ${hp.host.label}`);
    return s;
  };
  const results = new Map<string, HostResult>(
    plan.hosts.map((hp) => {
      const before = session(hp).facts.live;
      return [hp.host.label, { label: hp.host.label, outcome: "not-switched", before, live: before, bytesSent: 0, seconds: { setup: 0, upload: 0, release: 0 } }];
    }),
  );
  const result = (hp: HostPlan) => results.get(hp.host.label)!;

  // One host, and nothing to run between its release and its switch (a release phase, a
  // staged slot): its switch runs in its release's batch, a round trip fewer. A fleet's hosts
  // all write their release before any switches.
  const oneBatch = plan.hosts.length === 1 && plan.releasePhase === null && plan.hosts[0]!.stage.length === 0;
  let switchFailed: unknown = null;
  const waves = planWaves(plan.hosts, policy.rollout);
  const waveEvent = (w: number) => policy.events({ type: "wave", wave: w + 1, waves: waves.length, hosts: waves[w]!.map((hp) => hp.host.label) });
  if (oneBatch) waveEvent(0);

  // 1. Every host writes its release; nothing switches yet, so a failure here changes nothing live.
  // At most rollout.concurrency hosts at a time: their uploads share the deploying machine's uplink,
  // so more at once would not finish sooner. After a failure no further host starts.
  let writeFailed = false;
  const written = await settleLimited(plan.hosts, policy.concurrency, async (hp) => {
    if (writeFailed) return;
    const s = session(hp);
    try {
      const r = await runHostPlan(s.remote, hp, policy.events, { compression: s.facts.zstd ? "zstd" : "gzip", then: oneBatch ? hp.activate : [], early: s.early });
      switchFailed = r.thenFailed ?? null;
      Object.assign(result(hp), { bytesSent: r.bytesSent, seconds: r.seconds });
    } catch (e) {
      writeFailed = true;
      throw e;
    }
  });
  throwFirst(written, policy.events);

  // 2. The release phase, once, before any host switches.
  if (plan.releasePhase) {
    const hp = plan.hosts.find((h) => h.host.label === plan.releasePhase!.host);
    if (!hp) throw new Error(`executePlan: the release phase's host ${plan.releasePhase.host} is not in the plan`);
    const t = performance.now();
    await runReleasePhase(session(hp).remote, plan.releasePhase, policy.events);
    result(hp).seconds.release += (performance.now() - t) / 1000;
  }

  // 3. A fleet of more than one wave starts the release's web slot on every host, out of
  // traffic (HostPlan.stage), all at once as a wave switches (its time is the hosts' own health
  // wait): a host that cannot start it stops the rollout before any host switches, and the
  // others' slots stop again.
  const staged: HostPlan[] = [];
  // A host whose wave will not come stops the slot it started; a failure to is reported, not thrown.
  const unstage = (hosts: HostPlan[]) =>
    Promise.all(
      hosts.map(async (hp) => {
        const step: Step = { kind: "run", argv: switchCommands(plan.app).unstage(release), why: "stop the slot started for a wave that will not come" };
        await runBatch(session(hp).remote, [step], policy.events).catch((e: unknown) => policy.events({ type: "error", line: message(e) }));
      }),
    );
  const staging = plan.hosts.filter((hp) => hp.stage.length);
  if (staging.length) {
    const done = await Promise.allSettled(
      staging.map(async (hp) => {
        try {
          await runBatch(session(hp).remote, hp.stage, policy.events);
          staged.push(hp);
        } catch (e) {
          Object.assign(result(hp), { outcome: "failed", error: message(e) });
          throw e;
        }
      }),
    );
    const failed = done.find((d) => d.status === "rejected");
    if (failed) {
      await unstage(staged);
      const reason = (failed as PromiseRejectedResult).reason;
      throw new RolloutError(rolloutFailure(plan, "before any host switched", reason, [...results.values()], policy.revert), [...results.values()]);
    }
  }

  // 4. The switch, wave by wave. A wave's hosts switch all at once, not rollout.concurrency at a
  // time: a switch is one small script on a connection already open, and its time is the host's
  // own health wait, so a wave takes about as long with 100 hosts as with 1 (and the fleet runs
  // two releases no longer than it must).
  const switched: HostPlan[] = [];
  const sleep = policy.sleep ?? ((s: number) => Bun.sleep(s * 1000));
  for (const [w, wave] of waves.entries()) {
    let failure: unknown = null;
    if (w > 0 && policy.rollout.pauseSec > 0) {
      policy.events({ type: "info", line: `waiting ${policy.rollout.pauseSec}s before wave ${w + 1}/${waves.length}` });
      const pause = policy.rollout.pauseSec;
      const countdown = startTicker(policy.events, "pause", (s) => `waiting before wave ${w + 1}/${waves.length}: ${Math.max(0, Math.ceil(pause - s))}s left`);
      try {
        await sleep(pause);
      } finally {
        countdown.stop();
      }
      failure = await stillHealthy(plan, waves[w - 1]!.map(session), release, result);
    }
    if (!failure) {
      if (!oneBatch) waveEvent(w);
      // On a terminal, a fleet's wave stays in view while it switches: the hosts not done yet.
      const switching = new Set(wave.map((hp) => hp.host.label));
      const live = waves.length > 1 ? startTicker(policy.events, "wave", (s) => `wave ${w + 1}/${waves.length}: switching ${[...switching].join(", ")} (${s.toFixed(1)}s)`) : null;
      const done = await Promise.allSettled(
        wave.map(async (hp) => {
          if (oneBatch) {
            // It switched in its release's batch (step 1).
            if (switchFailed) throw switchFailed;
            return;
          }
          const t = performance.now();
          try {
            await runBatch(session(hp).remote, hp.activate, policy.events);
          } finally {
            result(hp).seconds.release += (performance.now() - t) / 1000;
            switching.delete(hp.host.label);
            if (switching.size) live?.update();
          }
        }),
      );
      live?.stop();
      done.forEach((d, i) => {
        const hp = wave[i]!;
        if (d.status === "fulfilled") {
          switched.push(hp);
          Object.assign(result(hp), { outcome: "live", live: release });
        } else {
          Object.assign(result(hp), { outcome: "failed", error: message(d.reason) });
          failure ??= d.reason;
        }
      });
    }
    if (failure) {
      // The waves that will not come: their staged slots stop, their hosts keep what they run.
      await unstage(waves.slice(w + 1).flat().filter((hp) => staged.includes(hp)));
      if (policy.revert) await revert(plan.app, release, switched.map(session), results, policy);
      throw new RolloutError(rolloutFailure(plan, `in wave ${w + 1}/${waves.length}`, failure, [...results.values()], policy.revert), [...results.values()]);
    }
  }
  return { release, waves: waves.map((wave) => wave.map((hp) => hp.host.label)), hosts: [...results.values()] };
}

/**
 * After the pause: each host of the last wave still runs the release and, with a web
 * process, still answers its health path (a release that crashes a minute in stops here).
 */
async function stillHealthy(plan: Plan, sessions: HostSession[], release: string, result: (hp: HostPlan) => HostResult): Promise<unknown> {
  const checks = await Promise.allSettled(
    sessions.map(async (s) => {
      const r = await s.remote.exec(switchCommands(plan.app).status(), { check: false });
      const st = parseStatus(r.stdout);
      if (st.live !== release) throw new OperationError(`${s.host.label}: ${release} is no longer live (live: ${st.live ?? "none"})`);
      if (st.health !== null && st.health !== "ok") throw new OperationError(`${s.host.label}: release ${release} stopped answering its health check during the pause`);
    }),
  );
  const failed = checks.findIndex((c) => c.status === "rejected");
  if (failed < 0) return null;
  const hp = plan.hosts.find((h) => h.host.label === sessions[failed]!.host.label)!;
  const reason = (checks[failed] as PromiseRejectedResult).reason;
  Object.assign(result(hp), { outcome: "failed", error: message(reason) });
  return reason;
}

/**
 * Switches these hosts back from `release` to the release each had, through the same
 * health-gated switch. The switch is told what it undoes, so the host's audit trail records a
 * revert and `release` never counts as the previous good release there (rollbackTarget).
 */
async function revert(app: string, release: string, sessions: HostSession[], results: Map<string, HostResult>, policy: RolloutPolicy): Promise<void> {
  await Promise.all(
    sessions.map(async (s) => {
      const r = results.get(s.host.label)!;
      if (r.before === null) {
        r.outcome = "kept";
        policy.events({ type: "host", host: s.host.label, line: `no earlier release to go back to: ${r.live} stays live` });
        return;
      }
      policy.events({ type: "host", host: s.host.label, line: `reverting to ${r.before}` });
      try {
        // An older switch ignores UNDOING.
        const argv = switchCommands(app).activate(r.before, policy.who, { undoing: release });
        await runBatch(s.remote, [{ kind: "run", argv, why: `revert to ${r.before}` }], policy.events);
        Object.assign(r, { outcome: "reverted", live: r.before });
      } catch (e) {
        Object.assign(r, { outcome: "revert-failed", error: message(e) });
      }
    }),
  );
}

/** The first failure's message, then one line per host saying where it is. */
function rolloutFailure(plan: Plan, where: string, failure: unknown, hosts: HostResult[], reverted: boolean): string {
  const lines = hosts.map((h) => `  ${h.label}: ${describeOutcome(h)}`);
  const split = new Set(hosts.map((h) => h.live)).size > 1;
  const after = split
    ? `the fleet is split across releases${reverted ? "" : " (--no-revert)"}; \`qdeploy status ${plan.env}\` shows it`
    : `every host is on ${hosts[0]?.live ?? "no release"}`;
  return `${plan.action} of ${plan.release} stopped ${where}: ${message(failure)}\n${lines.join("\n")}\n${after}`;
}

function describeOutcome(h: HostResult): string {
  switch (h.outcome) {
    case "live":
      return `live on ${h.live}`;
    case "failed":
      return `failed; still on ${h.before ?? "no release"}`;
    case "reverted":
      return `switched back to ${h.live}`;
    case "revert-failed":
      return `could not switch back to ${h.before}: ${h.error}`;
    case "not-switched":
      return `not switched; still on ${h.before ?? "no release"}`;
    case "kept":
      return `live on ${h.live} (it had no earlier release to go back to)`;
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Throws the first rejection, after reporting the others as error events. */
function throwFirst(settled: PromiseSettledResult<unknown>[], events: EventSink): void {
  const failed = settled.flatMap((s) => (s.status === "rejected" ? [s.reason] : []));
  if (!failed.length) return;
  for (const e of failed.slice(1)) events({ type: "error", line: message(e) });
  throw failed[0];
}
