/** push, rollback, setup and plan: read the world, plan purely, then carry the plan out. */
import { goTarget, platformName } from "../build/arch.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { OperationError, RemoteError } from "../errors.ts";
import type { HostFacts } from "../plan/facts.ts";
import { FIRST_WEB_PORTS } from "../plan/layout.ts";
import { planPush } from "../plan/push.ts";
import { releaseId } from "../plan/release.ts";
import { planRollback } from "../plan/rollback.ts";
import { planSetup } from "../plan/setup.ts";
import { describeStep, type Plan } from "../plan/steps.ts";
import { gatherFacts, lockAndGatherFacts } from "../remote/host-ops.ts";
import type { Remote } from "../remote/remote.ts";
import { formatBytes, type HostRunResult, runBatch, runHostPlan } from "../remote/run-plan.ts";
import { redactingOutput } from "../output.ts";
import { redact } from "../secrets/redact.ts";
import { loadSecrets } from "../secrets/store.ts";
import { buildForArchs, lastKnownArchs, rememberArchs } from "./build.ts";
import { type Ctx, loadEnvironment, whoAmI, withRemotes } from "./context.ts";
import { siteUrls } from "./urls.ts";

/** Timings and counts of one push or rollback, for the summary and the benchmark. */
export interface DeployReport {
  release: string;
  /** lockAndFacts: taking every host's lock and reading its facts, one round trip. */
  seconds: { connect: number; lockAndFacts: number; build: number; total: number };
  hosts: HostRunResult[];
  urls: string[];
}

/** `qdeploy push ENV` */
export async function push(ctx: Ctx, env: string): Promise<DeployReport> {
  const t0 = performance.now();
  const cfg = await loadEnvironment(ctx, env);
  // Secrets first: a missing key fails before any host is touched.
  const secrets = await loadSecrets(cfg, { identityFile: ctx.identityFile });
  // A journal tail or a remote error could echo a value: everything printed is redacted.
  const hide = (text: string) => redact(text, Object.values(secrets));
  ctx = { ...ctx, out: redactingOutput(ctx.out, hide) };
  const who = whoAmI();
  // The build needs the hosts' architectures, which the facts tell; with the ones the last
  // push saw, it starts now and runs while the hosts are reached and locked.
  const guess = await lastKnownArchs(cfg);
  const early = guess ? settle(buildForArchs(cfg, guess, ctx.out)) : null;
  return redactErrors(hide, () => withLockedHosts(cfg, ctx, who, async (remotes, facts, times) => {
    const tb = performance.now(); // build: how long the push waits for it once the facts are in
    const archs = [...new Set(facts.map((f) => f.arch))];
    const earlyBuild = early ? await early : null;
    const builds = guess && earlyBuild && archs.every((a) => guess.includes(a)) ? unwrap(earlyBuild) : await buildForArchs(cfg, archs, ctx.out);
    await rememberArchs(cfg, facts);
    times.build = (performance.now() - tb) / 1000;
    const now = new Date();
    const plan = planPush({
      config: cfg,
      facts,
      artifacts: builds.artifacts,
      releaseId: uniqueReleaseId(now, facts),
      created: now.toISOString(),
      git: builds.git,
      who,
      secrets,
    });
    return carryOut(plan, remotes, facts, ctx, cfg, times, t0);
  }));
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A promise that never rejects, so it may wait unobserved while other work runs. */
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then((value) => ({ ok: true as const, value }), (error) => ({ ok: false as const, error }));
}

function unwrap<T>(s: Settled<T>): T {
  if (!s.ok) throw s.error;
  return s.value;
}

/** Runs f; an error it throws leaves with its message redacted. */
async function redactErrors<T>(hide: (s: string) => string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof Error) e.message = hide(e.message);
    throw e;
  }
}

/** `qdeploy rollback ENV [RELEASE]`: no build, no upload, the same health-gated switch. */
export async function rollback(ctx: Ctx, env: string, named: string | null): Promise<DeployReport> {
  const t0 = performance.now();
  const cfg = await loadEnvironment(ctx, env);
  const who = whoAmI();
  return withLockedHosts(cfg, ctx, who, async (remotes, facts, times) => {
    const plan = planRollback(cfg, facts, named, who);
    ctx.out.info(`rolling back ${cfg.app} (${env}) to ${plan.release}`);
    return carryOut(plan, remotes, facts, ctx, cfg, times, t0);
  });
}

/** `qdeploy setup ENV`: prepares the hosts (idempotent). */
export async function setup(ctx: Ctx, env: string): Promise<void> {
  const cfg = await loadEnvironment(ctx, env);
  await withRemotes(cfg, ctx, async (remotes) => {
    await Promise.all(
      remotes.map(async (remote, i) => {
        const facts = await gatherFacts(remote, cfg.hosts[i]!, cfg.app);
        requireSystemd(facts);
        await runBatch(remote, planSetup(cfg, facts, true), ctx.out);
        ctx.out.result(`${remote.label} ready for ${cfg.app}`);
      }),
    );
  });
}

/** `qdeploy plan ENV`: what push would do on a fresh host of this arch, touching no server. */
export async function plan(ctx: Ctx, env: string, arch: string): Promise<Plan> {
  const cfg = await loadEnvironment(ctx, env);
  goTarget(arch); // a clear error for an unknown arch before building
  let secrets: Record<string, string> = {};
  const notes: string[] = [];
  try {
    secrets = await loadSecrets(cfg, { identityFile: ctx.identityFile });
  } catch (e) {
    notes.push(`secrets not loaded (${(e as Error).message.split("\n")[0]}); push needs them`);
  }
  const builds = await buildForArchs(cfg, [arch], ctx.out);
  const facts = cfg.hosts.map((host) => freshHostFacts(host, arch));
  const now = new Date();
  const p = planPush({ config: cfg, facts, artifacts: builds.artifacts, releaseId: releaseId(now), created: now.toISOString(), git: builds.git, who: whoAmI(), secrets });
  printPlan(ctx, p, cfg, notes, platformName(goTarget(arch)));
  return p;
}

type Times = DeployReport["seconds"];

/** Connects, takes every host's deploy lock, reads facts, runs f, always lets go. */
async function withLockedHosts(
  cfg: ResolvedConfig,
  ctx: Ctx,
  who: string,
  f: (remotes: Remote[], facts: HostFacts[], times: Times) => Promise<DeployReport>,
): Promise<DeployReport> {
  const times: Times = { connect: 0, lockAndFacts: 0, build: 0, total: 0 };
  let t = performance.now();
  const lap = () => {
    const now = performance.now();
    const s = (now - t) / 1000;
    t = now;
    return s;
  };
  return withRemotes(cfg, ctx, async (remotes) => {
    times.connect = lap();
    const unlocks: (() => Promise<void>)[] = [];
    try {
      const held = await Promise.allSettled(remotes.map((r, i) => lockAndGatherFacts(r, cfg.hosts[i]!, cfg.app, who, ctx.lockWaitSec)));
      for (const h of held) if (h.status === "fulfilled") unlocks.push(h.value.unlock);
      const failed = held.find((h) => h.status === "rejected");
      if (failed) throw failed.reason;
      const facts = held.map((h) => (h as PromiseFulfilledResult<{ facts: HostFacts }>).value.facts);
      facts.forEach(requireSystemd);
      times.lockAndFacts = lap();
      return await f(remotes, facts, times);
    } finally {
      await Promise.all(unlocks.map((u) => u()));
    }
  });
}

async function carryOut(plan: Plan, remotes: Remote[], facts: HostFacts[], ctx: Ctx, cfg: ResolvedConfig, times: Times, t0: number): Promise<DeployReport> {
  for (const hp of plan.hosts) for (const n of hp.notes) ctx.out.host(hp.host.label, n);
  const settled = await Promise.allSettled(
    plan.hosts.map((hp, i) => runHostPlan(remotes[i]!, hp, ctx.out, facts[i]!.zstd ? "zstd" : "gzip")),
  );
  const failed = settled.flatMap((s) => (s.status === "rejected" ? [s.reason] : []));
  if (failed.length) {
    for (const e of failed.slice(1)) ctx.out.error(e instanceof Error ? e.message : String(e));
    throw failed[0];
  }
  const hosts = settled.map((s) => (s as PromiseFulfilledResult<HostRunResult>).value);
  times.total = (performance.now() - t0) / 1000;
  const urls = await siteUrls(cfg);
  for (const h of hosts) {
    ctx.out.result(`${h.label} ${cfg.app} ${plan.release} live (${plan.action} ${times.total.toFixed(1)}s, ${formatBytes(h.bytesSent)} sent)`);
  }
  for (const u of urls) ctx.out.result(u);
  return { release: plan.release!, seconds: times, hosts, urls };
}

/** A release id later than every one on the hosts (two pushes in one second stay apart). */
function uniqueReleaseId(now: Date, facts: HostFacts[]): string {
  let id = releaseId(now);
  const newest = facts.flatMap((f) => f.releases.map((r) => r.id)).sort().at(-1);
  if (newest && newest >= id) id = String(BigInt(newest) + 1n);
  return id;
}

function requireSystemd(f: HostFacts): void {
  if (!f.systemd) throw new RemoteError(f.host.label, "systemd is not running on this host (qdeploy runs apps as systemd units)");
  if (f.user !== "root") throw new OperationError(`${f.host.label}: qdeploy logs in as root for now (user ${f.user} is not); use root@host`);
}

/** Facts of a host qdeploy never touched, for the offline plan. */
function freshHostFacts(host: ResolvedConfig["hosts"][number], arch: string): HostFacts {
  return { host, arch, user: "root", systemd: true, caddy: false, zstd: true, switchSha: "", caddyfileSha: "", live: null, liveSlot: null, lock: null, webPorts: FIRST_WEB_PORTS, history: [], blobs: [], releases: [], partial: [] };
}

function printPlan(ctx: Ctx, p: Plan, cfg: ResolvedConfig, notes: string[], platform: string): void {
  const o = ctx.out;
  if (o.json) {
    o.data({ ...p, hosts: p.hosts.map((h) => ({ ...h, release: h.release.map((s) => (s.kind === "write" && s.secret ? { ...s, content: "[secret]" } : s)) })) });
    return;
  }
  o.result(`plan: push ${cfg.app} to ${cfg.env} as release ${p.release} (${platform}; assumes fresh hosts, touches none)`);
  for (const n of notes) o.result(`note: ${n}`);
  const shown = new Set<string>();
  for (const hp of p.hosts) {
    o.result(`\n== ${hp.host.label}`);
    for (const [phase, steps] of [["setup", hp.setup], ["upload", hp.upload], ["release", hp.release]] as const) {
      if (!steps.length) continue;
      o.result(`-- ${phase}`);
      for (const s of steps) {
        o.result(`  ${describeStep(s)}   # ${s.why}`);
        if (s.kind === "write" && !s.secret && !shown.has(s.path) && /(units\/|site\.caddy|Caddyfile)/.test(s.path)) {
          shown.add(s.path);
          o.result(s.content.replace(/^/gm, "      | ").trimEnd());
        }
        if (s.kind === "write" && s.secret) {
          const names = s.content.split("\n").map((l) => l.split("=")[0]).filter(Boolean);
          o.result(`      | (${names.length} variables: ${names.join(", ")}; values not shown)`);
        }
      }
    }
  }
}
