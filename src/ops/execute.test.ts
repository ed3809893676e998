import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { helloConfig } from "../../test/fixtures/config.ts";
import { type FakeHost, recordingRemote } from "../../test/fixtures/recording-remote.ts";
import type { HostAddress, ResolvedConfig } from "../config/types.ts";
import { OperationError, RemoteError } from "../errors.ts";
import { freshHostFacts, parseFacts } from "../plan/facts.ts";
import { planPush } from "../plan/push.ts";
import { planRollback } from "../plan/rollback.ts";
import type { OpContext } from "./context.ts";
import { push, rollback } from "./deploy.ts";
import type { OpEvent } from "../events.ts";
import { Redactor } from "../secrets/redact.ts";
import { executePlan, type RolloutPolicy, RolloutError } from "./execute.ts";
import type { HostSession } from "./sessions.ts";
import { withLockedSessions } from "./sessions.ts";

const SHA = "a".repeat(64);
const NEW = "20261202010203";
const OLD = "20261201000000";

function addresses(n: number): HostAddress[] {
  return Array.from({ length: n }, (_, i) => ({ user: "root", host: `10.0.0.${i + 1}`, label: `root@10.0.0.${i + 1}` }));
}

function fleetConfig(n: number, over: Partial<ResolvedConfig> = {}): ResolvedConfig {
  return { ...helloConfig, hosts: addresses(n), root: mkdtempSync(path.join(tmpdir(), "qdeploy-ops-")), ...over };
}

/** A fleet of model hosts, each live on OLD (unless `live` says otherwise), their sessions and the shared log. */
function fleet(cfg: ResolvedConfig, tweak: (h: FakeHost, i: number) => void = () => {}) {
  const log: string[] = [];
  const hosts = cfg.hosts.map((a, i) => {
    const h: FakeHost = { label: a.label, live: OLD, releases: [OLD] };
    tweak(h, i);
    return h;
  });
  const sessions: HostSession[] = hosts.map((h, i) => {
    const remote = recordingRemote(h, log);
    const facts = freshHostFacts(cfg.hosts[i]!, "x86_64"); // replaced by withFacts
    return { host: cfg.hosts[i]!, remote, facts };
  });
  return { log, hosts, sessions };
}

/** The sessions' facts as the model hosts report them (what withLockedSessions would read). */
async function withFacts(cfg: ResolvedConfig, sessions: HostSession[]): Promise<HostSession[]> {
  return Promise.all(
    sessions.map(async (s) => {
      const r = await s.remote.exec(["bash", "-s", "--", cfg.app], { stdin: "facts" });
      return { ...s, facts: parseFacts(s.host, r.stdout) };
    }),
  );
}

function pushPlan(cfg: ResolvedConfig, sessions: HostSession[]) {
  return planPush({
    config: cfg,
    facts: sessions.map((s) => ({ ...s.facts, blobs: [SHA] })),
    artifacts: { x86_64: { binaries: { hello: { path: "/b", sha256: SHA, size: 1 } } } },
    releaseId: NEW,
    created: "c",
    git: null,
    who: "me",
    secrets: {},
    newDigestKey: "ab".repeat(32),
  });
}

function policy(cfg: ResolvedConfig, over: Partial<RolloutPolicy> = {}): RolloutPolicy & { events: (e: OpEvent) => void; seen: OpEvent[] } {
  const seen: OpEvent[] = [];
  return { rollout: cfg.rollout, concurrency: 32, revert: true, who: "me", events: (e) => seen.push(e), sleep: async () => {}, seen, ...over };
}

/** The log without connection noise, as `label what` lines of the switches only. */
const switches = (log: string[]) => log.filter((l) => / (activate|release phase)/.test(l));

describe("executePlan: waves", () => {
  test("every host writes its release, then starts it out of traffic, before any switches; then one host (canary), then the rest", async () => {
    const cfg = fleetConfig(3);
    const f = fleet(cfg);
    const sessions = await withFacts(cfg, f.sessions);
    const run = await executePlan(pushPlan(cfg, sessions), sessions, policy(cfg));
    const releases = f.log.filter((l) => l.includes(` release ${NEW}`));
    const firstSwitch = f.log.findIndex((l) => l.includes(" activate "));
    expect(releases.length).toBe(3);
    expect(f.log.findLastIndex((l) => l.includes(` release ${NEW}`))).toBeLessThan(f.log.findIndex((l) => l.includes(" stage ")));
    expect(f.log.filter((l) => l.includes(` stage ${NEW}`)).length).toBe(3);
    expect(f.log.findLastIndex((l) => l.includes(" stage "))).toBeLessThan(firstSwitch);
    expect(run.waves).toEqual([["root@10.0.0.1"], ["root@10.0.0.2", "root@10.0.0.3"]]);
    expect(switches(f.log)[0]).toBe(`root@10.0.0.1 activate ${NEW}`);
    expect(switches(f.log).slice(1).sort()).toEqual([`root@10.0.0.2 activate ${NEW}`, `root@10.0.0.3 activate ${NEW}`]);
    expect(run.hosts.map((h) => [h.label, h.outcome, h.before, h.live])).toEqual([
      ["root@10.0.0.1", "live", OLD, NEW],
      ["root@10.0.0.2", "live", OLD, NEW],
      ["root@10.0.0.3", "live", OLD, NEW],
    ]);
  });

  test("batch 2 of 5 hosts: three waves, each only after the one before, with the pause between", async () => {
    const cfg = fleetConfig(5, { rollout: { batch: 2, pauseSec: 5 } });
    const f = fleet(cfg);
    const sessions = await withFacts(cfg, f.sessions);
    const slept: number[] = [];
    const p = policy(cfg, { sleep: async (s) => void slept.push(s) });
    const run = await executePlan(pushPlan(cfg, sessions), sessions, p);
    expect(run.waves.map((w) => w.length)).toEqual([2, 2, 1]);
    expect(slept).toEqual([5, 5]);
    expect(p.seen.filter((e) => e.type === "wave").map((e) => (e as { wave: number }).wave)).toEqual([1, 2, 3]);
  });

  test("progress: each wave a live line of the hosts still switching, the pause a countdown, every one freed", async () => {
    const cfg = fleetConfig(3, { rollout: { batch: 2, pauseSec: 5 } });
    const f = fleet(cfg);
    const sessions = await withFacts(cfg, f.sessions);
    const p = policy(cfg);
    await executePlan(pushPlan(cfg, sessions), sessions, p);
    const progress = p.seen.filter((e): e is Extract<OpEvent, { type: "progress" }> => e.type === "progress");
    const live = progress.filter((e) => !e.done).map((e) => `${e.key}: ${e.line.slice(2)}`);
    expect(live[0]).toBe("wave: wave 1/2: switching root@10.0.0.1, root@10.0.0.2 (0.0s)");
    expect(live).toContain("pause: waiting before wave 2/2: 5s left");
    expect(live).toContain("wave: wave 2/2: switching root@10.0.0.3 (0.0s)");
    // as hosts finish they leave the line
    expect(live.some((l) => /^wave: wave 1\/2: switching root@10\.0\.0\.[12] \(/.test(l))).toBe(true);
    expect(live.filter((l) => l.includes("switching  ("))).toEqual([]); // never an empty list
    // in order: wave 1 freed before the pause starts, the pause freed before wave 2
    expect(progress.filter((e) => e.done).map((e) => [e.key, e.line])).toEqual([
      ["wave", ""],
      ["pause", ""],
      ["wave", ""],
    ]);
  });

  test("progress: one wave shows no wave line (the wave event says it all), and stages nothing: its switch does it all", async () => {
    const cfg = fleetConfig(2, { rollout: { batch: 2, pauseSec: 0 } });
    const f = fleet(cfg);
    const sessions = await withFacts(cfg, f.sessions);
    const p = policy(cfg);
    await executePlan(pushPlan(cfg, sessions), sessions, p);
    expect(p.seen.filter((e) => e.type === "progress" && e.key === "wave")).toEqual([]);
    expect(f.log.filter((l) => l.includes(" stage "))).toEqual([]);
  });
});

describe("executePlan: a failure stops the rollout and puts the hosts back", () => {
  test("a host failing its health check when it starts the release: no host switches, the slots started elsewhere stop", async () => {
    const cfg = fleetConfig(3);
    const f = fleet(cfg, (h, i) => i === 2 && (h.refuses = [NEW]));
    const sessions = await withFacts(cfg, f.sessions);
    const e = (await executePlan(pushPlan(cfg, sessions), sessions, policy(cfg)).catch((x: unknown) => x)) as RolloutError;
    expect(e).toBeInstanceOf(RolloutError);
    expect(e.message.split("\n")[0]).toBe(`push of ${NEW} stopped before any host switched: root@10.0.0.3: start it beside the live release, out of traffic failed (exit 1)`);
    expect(e.message).toContain(`error: release ${NEW} failed its health check`);
    expect(e.message).toEndWith(`  root@10.0.0.1: not switched; still on ${OLD}\n  root@10.0.0.2: not switched; still on ${OLD}\n  root@10.0.0.3: failed; still on ${OLD}\nevery host is on ${OLD}`);
    expect(switches(f.log)).toEqual([]);
    expect(f.log.filter((l) => l.includes(" unstage ")).sort()).toEqual([`root@10.0.0.1 unstage ${NEW}`, `root@10.0.0.2 unstage ${NEW}`]);
    expect(f.hosts.map((h) => [h.live, h.staged])).toEqual([[OLD, undefined], [OLD, undefined], [OLD, undefined]]);
  });

  test("a host whose switch fails in wave 2: the others switched by this push go back, the error says where each is", async () => {
    const cfg = fleetConfig(3);
    const f = fleet(cfg, (h, i) => i === 2 && (h.cutFails = [NEW]));
    const sessions = await withFacts(cfg, f.sessions);
    const err = await executePlan(pushPlan(cfg, sessions), sessions, policy(cfg)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RolloutError);
    const e = err as RolloutError;
    expect(e.message.split("\n")[0]).toBe(`push of ${NEW} stopped in wave 2/2: root@10.0.0.3: health-gated switch failed (exit 1)`);
    expect(e.message).toContain(`error: Caddy refused the site of release ${NEW}`);
    expect(e.message).toContain(`  root@10.0.0.1: switched back to ${OLD}\n  root@10.0.0.2: switched back to ${OLD}\n  root@10.0.0.3: failed; still on ${OLD}`);
    expect(e.message).toEndWith(`every host is on ${OLD}`);
    expect(f.hosts.map((h) => h.live)).toEqual([OLD, OLD, OLD]);
    expect(switches(f.log).filter((l) => l.endsWith(`activate ${OLD}`)).sort()).toEqual([`root@10.0.0.1 activate ${OLD}`, `root@10.0.0.2 activate ${OLD}`]);
    expect(e.hosts.map((h) => h.outcome)).toEqual(["reverted", "reverted", "failed"]);
  });

  test("--no-revert leaves the switched hosts on the new release and says the fleet is split", async () => {
    const cfg = fleetConfig(3);
    const f = fleet(cfg, (h, i) => i === 2 && (h.cutFails = [NEW]));
    const sessions = await withFacts(cfg, f.sessions);
    const e = (await executePlan(pushPlan(cfg, sessions), sessions, policy(cfg, { revert: false })).catch((x: unknown) => x)) as RolloutError;
    expect(f.hosts.map((h) => h.live)).toEqual([NEW, NEW, OLD]);
    expect(e.hosts.map((h) => h.outcome)).toEqual(["live", "live", "failed"]);
    expect(e.message).toEndWith("the fleet is split across releases (--no-revert); `qdeploy status sandbox` shows it");
  });

  test("the canary failing: no other host switches at all, and their started slots stop", async () => {
    const cfg = fleetConfig(4);
    const f = fleet(cfg, (h, i) => i === 0 && (h.cutFails = [NEW]));
    const sessions = await withFacts(cfg, f.sessions);
    const e = (await executePlan(pushPlan(cfg, sessions), sessions, policy(cfg)).catch((x: unknown) => x)) as RolloutError;
    expect(switches(f.log)).toEqual([`root@10.0.0.1 activate ${NEW}`]);
    expect(e.hosts.map((h) => h.outcome)).toEqual(["failed", "not-switched", "not-switched", "not-switched"]);
    expect(f.log.filter((l) => l.includes(" unstage ")).sort()).toEqual([2, 3, 4].map((i) => `root@10.0.0.${i} unstage ${NEW}`));
    expect(f.hosts.every((h) => h.staged === undefined)).toBe(true);
  });

  test("batch 1: a failure on host 2 leaves host 3 on its release (its started slot stopped) and reverts host 1", async () => {
    const cfg = fleetConfig(3, { rollout: { batch: 1, pauseSec: 0 } });
    const f = fleet(cfg, (h, i) => i === 1 && (h.cutFails = [NEW]));
    const sessions = await withFacts(cfg, f.sessions);
    const e = (await executePlan(pushPlan(cfg, sessions), sessions, policy(cfg)).catch((x: unknown) => x)) as RolloutError;
    expect(switches(f.log)).toEqual([`root@10.0.0.1 activate ${NEW}`, `root@10.0.0.2 activate ${NEW}`, `root@10.0.0.1 activate ${OLD}`]);
    expect(f.log.filter((l) => l.includes(" unstage "))).toEqual([`root@10.0.0.3 unstage ${NEW}`]);
    expect(e.hosts.map((h) => h.outcome)).toEqual(["reverted", "failed", "not-switched"]);
  });

  test("a wave that stops answering during the pause stops the rollout before the next wave", async () => {
    const cfg = fleetConfig(3, { rollout: { batch: null, pauseSec: 10 } });
    const f = fleet(cfg, (h, i) => i === 0 && (h.health = "failing"));
    const sessions = await withFacts(cfg, f.sessions);
    const e = (await executePlan(pushPlan(cfg, sessions), sessions, policy(cfg)).catch((x: unknown) => x)) as RolloutError;
    expect(e.message.split("\n")[0]).toBe(`push of ${NEW} stopped in wave 2/2: root@10.0.0.1: release ${NEW} stopped answering its health check during the pause`);
    expect(switches(f.log)).toEqual([`root@10.0.0.1 activate ${NEW}`, `root@10.0.0.1 activate ${OLD}`]);
  });

  test("a first release has nothing to go back to: the hosts that took it keep it, and the error says so", async () => {
    const cfg = fleetConfig(3);
    const f = fleet(cfg, (h, i) => {
      h.live = null;
      h.releases = [];
      if (i === 1) h.cutFails = [NEW];
    });
    const sessions = await withFacts(cfg, f.sessions);
    const e = (await executePlan(pushPlan(cfg, sessions), sessions, policy(cfg)).catch((x: unknown) => x)) as RolloutError;
    expect(e.hosts.map((h) => h.outcome)).toEqual(["kept", "failed", "kept"]);
    expect(e.message).toContain(`  root@10.0.0.1: live on ${NEW} (it had no earlier release to go back to)`);
  });

  test("a failed step while writing a release is named, and no host switches", async () => {
    const cfg = fleetConfig(3);
    const f = fleet(cfg, (h, i) => i === 1 && (h.failBatchAt = `releases/${NEW}/env`));
    const sessions = await withFacts(cfg, f.sessions);
    const e = await executePlan(pushPlan(cfg, sessions), sessions, policy(cfg)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RemoteError);
    expect((e as Error).message).toStartWith(`root@10.0.0.2: write  /srv/qdeploy/hello/releases/${NEW}/env (0600, `);
    expect((e as Error).message).toContain("No space left on device");
    expect(switches(f.log)).toEqual([]);
  });
});

describe("executePlan: one host", () => {
  /** The batch scripts the host's remote is sent, in order. */
  function batches(session: HostSession): string[] {
    const sent: string[] = [];
    const exec = session.remote.exec.bind(session.remote);
    session.remote.exec = (argv, opts) => {
      if (argv.join(" ") === "bash -s" && typeof opts?.stdin === "string") sent.push(opts.stdin);
      return exec(argv, opts);
    };
    return sent;
  }

  test("writes its release and switches in one batch, a round trip fewer; the wave event still comes first", async () => {
    const cfg = fleetConfig(1);
    const f = fleet(cfg);
    const sessions = await withFacts(cfg, f.sessions);
    const sent = batches(sessions[0]!);
    const p = policy(cfg);
    const run = await executePlan(pushPlan(cfg, sessions), sessions, p);
    const release = sent.filter((b) => b.includes(`releases/${NEW}/`));
    expect(release).toHaveLength(1);
    expect(release[0]!.indexOf(`releases/${NEW}/release.json`)).toBeLessThan(release[0]!.indexOf(`/switch activate ${NEW}`));
    expect(f.log.filter((l) => / (release|activate) /.test(l))).toEqual([`root@10.0.0.1 release ${NEW}`, `root@10.0.0.1 activate ${NEW}`]);
    expect(p.seen.filter((e) => e.type === "wave")).toEqual([{ type: "wave", wave: 1, waves: 1, hosts: ["root@10.0.0.1"] }]);
    expect(run.hosts.map((h) => [h.outcome, h.live])).toEqual([["live", NEW]]);
  });

  test("a release its switch refuses: stopped in wave 1/1, the release written, the host still on the one it had", async () => {
    const cfg = fleetConfig(1);
    const f = fleet(cfg, (h) => (h.refuses = [NEW]));
    const sessions = await withFacts(cfg, f.sessions);
    const e = (await executePlan(pushPlan(cfg, sessions), sessions, policy(cfg)).catch((x: unknown) => x)) as RolloutError;
    expect(e).toBeInstanceOf(RolloutError);
    expect(e.message.split("\n")[0]).toBe(`push of ${NEW} stopped in wave 1/1: root@10.0.0.1: health-gated switch failed (exit 1)`);
    expect(e.message).toContain(`error: release ${NEW} failed its health check`);
    expect(e.hosts.map((h) => [h.outcome, h.live])).toEqual([["failed", OLD]]);
    expect(f.hosts[0]!.releases).toContain(NEW);
    expect(f.hosts[0]!.live).toBe(OLD);
  });

  test("a failed write is named and switches nothing", async () => {
    const cfg = fleetConfig(1);
    const f = fleet(cfg, (h) => (h.failBatchAt = `releases/${NEW}/env`));
    const sessions = await withFacts(cfg, f.sessions);
    const e = await executePlan(pushPlan(cfg, sessions), sessions, policy(cfg)).catch((x: unknown) => x);
    expect(e).not.toBeInstanceOf(RolloutError);
    expect((e as Error).message).toStartWith(`root@10.0.0.1: write  /srv/qdeploy/hello/releases/${NEW}/env (0600, `);
    expect(switches(f.log)).toEqual([]);
    expect(f.hosts[0]!.live).toBe(OLD);
  });
});

describe("executePlan: the release phase", () => {
  test("runs once, on the duty host, after every host wrote its release and before any switches", async () => {
    const cfg = fleetConfig(3, { release: { command: "hello migrate", timeoutSec: 600 } });
    const f = fleet(cfg);
    const sessions = await withFacts(cfg, f.sessions);
    await executePlan(pushPlan(cfg, sessions), sessions, policy(cfg));
    const phase = f.log.indexOf("root@10.0.0.1 release phase");
    expect(phase).toBeGreaterThan(f.log.findLastIndex((l) => l.includes(` release ${NEW}`)));
    expect(phase).toBeLessThan(f.log.findIndex((l) => l.includes(" activate ")));
    expect(f.log.filter((l) => l.endsWith("release phase")).length).toBe(1);
  });
});

describe("rollback on a fleet", () => {
  test("hosts on different releases: each not on the target goes to it; one lacking it fails before any host switches", async () => {
    const R2 = "20261201120000";
    const cfg = fleetConfig(3);
    const f = fleet(cfg, (h, i) => {
      h.releases = i < 2 ? [OLD, R2] : [OLD];
      h.live = i < 2 ? R2 : OLD;
    });
    const sessions = await withFacts(cfg, f.sessions);
    const plan = planRollback(cfg, sessions.map((s) => s.facts), null, "me");
    expect(plan.release).toBe(OLD);
    expect(plan.hosts.map((h) => h.host.label)).toEqual(["root@10.0.0.1", "root@10.0.0.2"]);
    await executePlan(plan, sessions, policy(cfg));
    expect(f.hosts.map((h) => h.live)).toEqual([OLD, OLD, OLD]);
    expect(() => planRollback(cfg, sessions.map((s) => s.facts), R2, "me")).toThrow(
      `root@10.0.0.3: release ${R2} is not on this host (it has: ${OLD}); no host was switched`,
    );
  });

  test("right after a push a wave refused, rollback goes to the release before the live one: the one switched back counts for no host", async () => {
    // The fleet: R1 then R2 live everywhere; R3 fails on host 2 in wave 2, so host 1
    // (the canary) and host 3 (same wave) are switched back to R2.
    const R1 = "20261130000000";
    const cfg = fleetConfig(3);
    const f = fleet(cfg, (h, i) => {
      h.releases = [R1, OLD];
      h.history = [R1, OLD];
      if (i === 1) h.cutFails = [NEW];
    });
    const pushed = await withFacts(cfg, f.sessions);
    const e = (await executePlan(pushPlan(cfg, pushed), pushed, policy(cfg)).catch((x: unknown) => x)) as RolloutError;
    expect(e.hosts.map((h) => h.outcome)).toEqual(["reverted", "failed", "reverted"]);
    expect(switches(f.log).filter((l) => l.endsWith(`activate ${OLD}`)).sort()).toEqual([`root@10.0.0.1 activate ${OLD}`, `root@10.0.0.3 activate ${OLD}`]);

    const after = await withFacts(cfg, f.sessions);
    const back = planRollback(cfg, after.map((s) => s.facts), null, "me");
    expect(back.release).toBe(R1);
    await executePlan(back, after, policy(cfg));
    expect(f.hosts.map((h) => h.live)).toEqual([R1, R1, R1]);
    // A second rollback goes back to where the first came from, not to the refused release.
    const again = await withFacts(cfg, f.sessions);
    expect(planRollback(cfg, again.map((s) => s.facts), null, "me").release).toBe(OLD);
  });
});

/** An OpContext over model hosts: their recording Remotes, a build that makes no binary. */
function opOver(cfg: ResolvedConfig, hosts: FakeHost[], log: string[]): OpContext & { seen: OpEvent[] } {
  const seen: OpEvent[] = [];
  const byLabel = new Map(hosts.map((h) => [h.label, h]));
  return {
    cfg: { ...cfg, secrets: { store: "env", names: [] } },
    connect: async (host) => recordingRemote(byLabel.get(host.label)!, log),
    events: (e) => seen.push(e),
    redactor: new Redactor(),
    who: "me",
    lockWaitSec: 1,
    build: async (_cfg, archs) => ({ artifacts: Object.fromEntries(archs.map((a) => [a, { binaries: { hello: { path: "/b", sha256: SHA, size: 1 } } }])), git: null, seconds: 0 }),
    seen,
  };
}

function modelHosts(cfg: ResolvedConfig, tweak: (h: FakeHost, i: number) => void = () => {}): FakeHost[] {
  return cfg.hosts.map((a, i) => {
    const h: FakeHost = { label: a.label, live: OLD, releases: [OLD] };
    tweak(h, i);
    return h;
  });
}

describe("the deploy lock", () => {
  test("a push that fails on one host lets go of every host's lock and closes every connection", async () => {
    const cfg = fleetConfig(3);
    const log: string[] = [];
    const hosts = modelHosts(cfg, (h, i) => i === 2 && (h.failBatchAt = "release.json"));
    const err = await push(opOver(cfg, hosts, log)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    for (const h of hosts) {
      expect(log).toContain(`${h.label} locked`);
      expect(log.indexOf(`${h.label} closed`)).toBeGreaterThan(log.indexOf(`${h.label} unlocked`));
    }
    expect(log.filter((l) => l.endsWith(" unlocked")).length).toBe(3);
    expect(log.some((l) => l.includes(" activate "))).toBe(false);
  });

  test("a host whose lock another deploy holds says whom the push waits for, then the push goes on", async () => {
    const cfg = fleetConfig(2);
    const log: string[] = [];
    const holder = "ci@runner, pid 42, since 2026-12-06T23:00:00Z";
    const op = opOver(cfg, modelHosts(cfg, (h, i) => i === 1 && (h.waitedFor = holder)), log);
    await push(op);
    const lines = op.seen.filter((e) => e.type === "host" && e.line.includes("deploy lock"));
    expect(lines).toEqual([{ type: "host", host: "root@10.0.0.2", line: `waiting up to 1s (--lock-wait) for the deploy lock, held by ${holder}` }]);
    expect(log.some((l) => l.includes(" activate "))).toBe(true);
  });

  test("a lock another deploy holds on one host: the locks taken on the others are released, nothing is built or written", async () => {
    const cfg = fleetConfig(3);
    const log: string[] = [];
    const hosts = modelHosts(cfg, (h, i) => i === 1 && (h.lockedBy = "ci@runner"));
    let built = 0;
    const op = { ...opOver(cfg, hosts, log), build: async () => (built++, { artifacts: {}, git: null, seconds: 0 }) };
    const err = await push(op).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toBe("root@10.0.0.2: the deploy lock is held by ci@runner; see `qdeploy lock status`");
    expect(log.filter((l) => l.endsWith(" unlocked")).sort()).toEqual(["root@10.0.0.1 unlocked", "root@10.0.0.3 unlocked"]);
    expect(log.some((l) => / (release|activate) /.test(l))).toBe(false);
    expect(built).toBe(0);
  });

  test("withLockedSessions: an error in the work still releases every lock", async () => {
    const cfg = fleetConfig(2);
    const log: string[] = [];
    const op = opOver(cfg, modelHosts(cfg), log);
    const err = await withLockedSessions(op, cfg.hosts, async () => {
      throw new Error("boom");
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe("boom");
    expect(log.filter((l) => l.endsWith(" unlocked")).length).toBe(2);
  });
});

describe("push and rollback as operations", () => {
  test("push returns what happened per host and reports the waves as events; rollback goes back the same way", async () => {
    const cfg = fleetConfig(3);
    const log: string[] = [];
    const hosts = modelHosts(cfg);
    const op = opOver(cfg, hosts, log);
    const r = await push(op);
    expect(r.action).toBe("push");
    expect(r.waves.map((w) => w.length)).toEqual([1, 2]);
    expect(r.hosts.map((h) => h.outcome)).toEqual(["live", "live", "live"]);
    expect(new Set(hosts.map((h) => h.live))).toEqual(new Set([r.release]));
    expect(op.seen.filter((e) => e.type === "wave").length).toBe(2);
    const back = await rollback(op, null);
    expect(back.release).toBe(OLD);
    expect(hosts.map((h) => h.live)).toEqual([OLD, OLD, OLD]);
  });

  test("a push to one host sends its changed binary while it takes the lock, as a patch against the blob it sent there last; only once", async () => {
    const cfg = fleetConfig(1);
    const log: string[] = [];
    const hosts = modelHosts(cfg);
    const op = opOver(cfg, hosts, log);
    const bases: (string | undefined)[] = [];
    const connect = op.connect;
    op.connect = async (host) => {
      const r = await connect(host);
      const upload = r.upload.bind(r);
      return { ...r, upload: (local, remote, o) => (bases.push(o.base?.remote), upload(local, remote, o)) };
    };
    await push(op); // the first: nothing recorded yet, so nothing goes early
    const NEXT = "c".repeat(64);
    op.build = async (_cfg, archs) => ({ artifacts: Object.fromEntries(archs.map((a) => [a, { binaries: { hello: { path: "/b2", sha256: NEXT, size: 1 } } }])), git: null, seconds: 0 });
    log.length = 0;
    bases.length = 0;
    const r = await push(op);
    expect(log.filter((l) => l.includes(" upload "))).toEqual([`root@10.0.0.1 upload /srv/qdeploy/hello/blobs/${NEXT}`]);
    expect(bases).toEqual([`/srv/qdeploy/hello/blobs/${SHA}`]);
    expect(op.seen.filter((e) => e.type === "host" && e.line.endsWith(" while taking the lock")).map((e) => (e as { line: string }).line)).toEqual(["uploading the x86_64 binary (1 B raw) while taking the lock", "uploaded 1.0 kB while taking the lock"]);
    expect(r.hosts.map((h) => [h.outcome, h.bytesSent])).toEqual([["live", 1000]]);
  });

  test("a push to a fleet sends each host its changed binary while it takes the locks, at most rollout.concurrency at once", async () => {
    const cfg = fleetConfig(3, { rollout: { ...helloConfig.rollout, concurrency: 2 } });
    const log: string[] = [];
    const hosts = modelHosts(cfg);
    const op = opOver(cfg, hosts, log);
    let sending = 0;
    let most = 0;
    const bases: (string | undefined)[] = [];
    const connect = op.connect;
    op.connect = async (host) => {
      const r = await connect(host);
      const upload = r.upload.bind(r);
      return {
        ...r,
        upload: async (local, remote, o) => {
          bases.push(o.base?.remote);
          most = Math.max(most, ++sending);
          await Bun.sleep(5);
          sending--;
          return upload(local, remote, o);
        },
      };
    };
    await push(op); // the first: nothing recorded yet, so nothing goes early
    const NEXT = "c".repeat(64);
    op.build = async (_cfg, archs) => ({ artifacts: Object.fromEntries(archs.map((a) => [a, { binaries: { hello: { path: "/b2", sha256: NEXT, size: 1 } } }])), git: null, seconds: 0 });
    log.length = 0;
    bases.length = 0;
    most = 0;
    const r = await push(op);
    expect(log.filter((l) => l.includes(" upload ")).sort()).toEqual(hosts.map((h) => `${h.label} upload /srv/qdeploy/hello/blobs/${NEXT}`));
    expect(bases).toEqual(hosts.map(() => `/srv/qdeploy/hello/blobs/${SHA}`));
    expect(most).toBe(2);
    const early = op.seen.flatMap((e) => (e.type === "host" && e.line.endsWith(" while taking the lock") ? [`${e.host} ${e.line}`] : []));
    expect(early.filter((l) => l.includes("uploaded 1.0 kB")).sort()).toEqual(hosts.map((h) => `${h.label} uploaded 1.0 kB while taking the lock`));
    expect(r.hosts.map((h) => [h.outcome, h.bytesSent])).toEqual(hosts.map(() => ["live", 1000]));
  });

  test("[hooks] remote_post_deploy runs on every host once all of them are live; a host's failure is an error line, the push stands; --no-hooks runs none", async () => {
    const cfg = fleetConfig(2, { hooks: { commands: {}, timeoutSec: 60, remotePostDeploy: "hello warm-cache" } });
    const log: string[] = [];
    const hosts = modelHosts(cfg, (h, i) => void (h.hookFails = i === 1));
    const op = opOver(cfg, hosts, log);
    const r = await push(op);
    // Each host's hook after the last activate, in the new release.
    expect(log.filter((l) => / (activate|hook) /.test(l)).map((l) => l.replace(r.release, "NEW"))).toEqual(["root@10.0.0.1 activate NEW", "root@10.0.0.2 activate NEW", "root@10.0.0.1 hook NEW", "root@10.0.0.2 hook NEW"]);
    expect(r.hosts.map((h) => h.outcome)).toEqual(["live", "live"]);
    const errors = op.seen.flatMap((e) => (e.type === "error" ? [e.line] : []));
    expect(errors).toEqual(["root@10.0.0.2: hook remote_post_deploy (hello warm-cache) exited with status 1; the push itself is live"]);
    log.length = 0;
    await push(op, { remoteHooks: false });
    expect(log.filter((l) => l.includes(" hook "))).toEqual([]);
  });

  test("--hosts: only those hosts are locked, get the release and switch", async () => {
    const cfg = fleetConfig(3);
    const log: string[] = [];
    const hosts = modelHosts(cfg);
    const r = await push(opOver(cfg, hosts, log), { filter: { hosts: ["10.0.0.2"] } });
    expect(r.hosts.map((h) => h.label)).toEqual(["root@10.0.0.2"]);
    expect(hosts.map((h) => h.live)).toEqual([OLD, r.release, OLD]);
    expect(log.filter((l) => l.endsWith(" locked"))).toEqual(["root@10.0.0.2 locked"]);
  });

  test("rollback of one host with a warm standby flips to it in the lock's round trip, at nice -10: no switch of its own", async () => {
    const cfg = fleetConfig(1);
    const log: string[] = [];
    const [h] = modelHosts(cfg);
    Object.assign(h!, { live: NEW, releases: [OLD, NEW], standby: OLD });
    const op = opOver(cfg, [h!], log);
    const r = await rollback(op, null);
    expect([r.release, r.hosts[0]!.outcome, r.hosts[0]!.before, h!.live]).toEqual([OLD, "live", NEW, OLD]);
    expect(log).toEqual([`${h!.label} locked at nice -n -10`, `${h!.label} flip ${OLD}`, `${h!.label} unlocked`, `${h!.label} closed`]);
    const said = op.seen.findIndex((e) => e.type === "info" && e.line.endsWith(`to ${OLD} (the standby)`));
    // The lock is said to be held before the flip's own lines (qdeploy serve answers then).
    expect(op.seen.findIndex((e) => e.type === "locked")).toBeGreaterThanOrEqual(0);
    expect(op.seen.findIndex((e) => e.type === "locked")).toBeLessThan(said);
  });

  test("rollback to a release the standby does not run, or with no standby, is the usual switch", async () => {
    const cfg = fleetConfig(1);
    for (const [standby, named] of [[undefined, null], ["20261130000000", OLD]] as const) {
      const log: string[] = [];
      const [h] = modelHosts(cfg);
      Object.assign(h!, { live: NEW, releases: ["20261130000000", OLD, NEW], ...(standby ? { standby } : {}) });
      const r = await rollback(opOver(cfg, [h!], log), named);
      expect([r.release, h!.live]).toEqual([OLD, OLD]);
      expect(log.filter((l) => / (flip|activate) /.test(l))).toEqual([`${h!.label} activate ${OLD}`]);
    }
  });

  test("a switch an older qdeploy installed (no flip verb): the usual rollback, which installs this one first", async () => {
    const cfg = fleetConfig(1);
    const log: string[] = [];
    const [h] = modelHosts(cfg);
    Object.assign(h!, { live: NEW, releases: [OLD, NEW], standby: OLD, oldSwitch: true });
    const r = await rollback(opOver(cfg, [h!], log), null);
    expect([r.release, h!.live]).toEqual([OLD, OLD]);
    expect(log.filter((l) => / (flip|activate|setup)/.test(l))).toEqual([`${h!.label} setup (1 steps)`, `${h!.label} activate ${OLD}`]);
  });

  test("a flip that fails part-way says so, with where the host is; a fleet never flips under its locks", async () => {
    const one = fleetConfig(1);
    const [h] = modelHosts(one);
    Object.assign(h!, { live: NEW, releases: [OLD, NEW], standby: OLD, flipFails: true });
    const err = await rollback(opOver(one, [h!], []), null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as Error).message).toBe(`${h!.label}: the rollback to the standby failed: could not restart hello-worker@1.service; live: ${NEW}`);

    const three = fleetConfig(3);
    const log: string[] = [];
    const hosts = modelHosts(three);
    for (const x of hosts) Object.assign(x, { live: NEW, releases: [OLD, NEW], standby: OLD });
    await rollback(opOver(three, hosts, log), null);
    expect(log.filter((l) => l.includes(" flip "))).toEqual([]);
    expect(hosts.map((x) => x.live)).toEqual([OLD, OLD, OLD]);
  });
});
