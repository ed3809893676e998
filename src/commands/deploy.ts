/** push, rollback, setup and plan: read the world, plan purely, then carry the plan out. */
import { randomBytes } from "node:crypto";
import { goTarget, platformName } from "../build/arch.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { OperationError, RemoteError } from "../errors.ts";
import { factWarnings, freshHostFacts, type HostFacts } from "../plan/facts.ts";
import { planPush } from "../plan/push.ts";
import { releaseId, releaseVars } from "../plan/release.ts";
import { planRollback } from "../plan/rollback.ts";
import { planSetup } from "../plan/setup.ts";
import { describeStep, type Plan, type Step } from "../plan/steps.ts";
import { gatherFacts, lockAndGatherFacts } from "../remote/host-ops.ts";
import type { Remote } from "../remote/remote.ts";
import { sudoAdvice } from "../remote/sudo.ts";
import { formatBytes, type HostRunResult, runBatch, runPlan } from "../remote/run-plan.ts";
import { loadSecrets } from "../secrets/store.ts";
import { type BootstrapOptions, bootstrapHosts } from "./bootstrap.ts";
import { buildForArchs, lastKnownArchs, rememberArchs } from "./build.ts";
import { type Ctx, loadEnvironment, whoAmI, withRemotes } from "./context.ts";
import { hider, hidingIn, redactErrors, secretsToHide } from "./redaction.ts";
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
  const hide = hider(secrets);
  ctx = hidingIn(ctx, hide);
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
      newDigestKey: newDigestKey(),
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

/** `qdeploy rollback ENV [RELEASE]`: no build, no upload, the same health-gated switch. */
export async function rollback(ctx: Ctx, env: string, named: string | null): Promise<DeployReport> {
  const t0 = performance.now();
  const cfg = await loadEnvironment(ctx, env);
  const who = whoAmI();
  // The target's units can fail their health check and print a journal tail: hide secrets there too.
  const hide = hider(await secretsToHide(cfg, ctx));
  ctx = hidingIn(ctx, hide);
  return redactErrors(hide, () => withLockedHosts(cfg, ctx, who, async (remotes, facts, times) => {
    const plan = planRollback(cfg, facts, named, who);
    ctx.out.info(`rolling back ${cfg.app} (${env}) to ${plan.release}`);
    return carryOut(plan, remotes, facts, ctx, cfg, times, t0);
  }));
}

/** `qdeploy setup ENV [--bootstrap]`: prepares the hosts (idempotent); first makes the deploy user with --bootstrap. */
export async function setup(ctx: Ctx, env: string, bootstrap?: BootstrapOptions): Promise<void> {
  const cfg = await loadEnvironment(ctx, env);
  if (bootstrap) await bootstrapHosts(ctx, cfg, bootstrap);
  await withRemotes(cfg, ctx, async (remotes) => {
    await Promise.all(
      remotes.map(async (remote, i) => {
        const facts = await gatherFacts(remote, cfg.hosts[i]!, cfg.app);
        requireSystemd(facts, cfg.env);
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
  const hide = hider(secrets);
  ctx = hidingIn(ctx, hide);
  return redactErrors(hide, async () => {
    const builds = await buildForArchs(cfg, [arch], ctx.out);
    const facts = cfg.hosts.map((host) => freshHostFacts(host, arch));
    const now = new Date();
    const p = planPush({ config: cfg, facts, artifacts: builds.artifacts, releaseId: releaseId(now), created: now.toISOString(), git: builds.git, who: whoAmI(), secrets, newDigestKey: newDigestKey() });
    // The env file's names come from the variables themselves: its text cannot be split into
    // lines to find them, since a value (a PEM key) may hold newlines.
    printPlan(ctx, p, cfg, notes, platformName(goTarget(arch)), Object.keys(releaseVars(cfg, secrets)).sort());
    return p;
  });
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
      for (const f of facts) requireSystemd(f, cfg.env);
      for (const w of facts.flatMap((fa) => factWarnings(fa, cfg.app))) ctx.out.warn(w);
      times.lockAndFacts = lap();
      return await f(remotes, facts, times);
    } finally {
      await Promise.all(unlocks.map((u) => u()));
    }
  });
}

async function carryOut(plan: Plan, remotes: Remote[], facts: HostFacts[], ctx: Ctx, cfg: ResolvedConfig, times: Times, t0: number): Promise<DeployReport> {
  for (const hp of plan.hosts) for (const n of hp.notes) ctx.out.host(hp.host.label, n);
  const hosts = await runPlan(plan, remotes, ctx.out, (i) => (facts[i]!.zstd ? "zstd" : "gzip"));
  times.total = (performance.now() - t0) / 1000;
  const urls = await siteUrls(cfg);
  for (const h of hosts) {
    ctx.out.result(`${h.label} ${cfg.app} ${plan.release} live (${plan.action} ${times.total.toFixed(1)}s, ${formatBytes(h.bytesSent)} sent)`);
  }
  for (const u of urls) ctx.out.result(u);
  return { release: plan.release!, seconds: times, hosts, urls };
}

/** A fresh key for release.json's config digest, used by a host that has none yet. */
function newDigestKey(): string {
  return randomBytes(32).toString("hex");
}

/** A release id later than every one on the hosts (two pushes in one second stay apart). */
function uniqueReleaseId(now: Date, facts: HostFacts[]): string {
  let id = releaseId(now);
  const newest = facts.flatMap((f) => f.releases.map((r) => r.id)).sort().at(-1);
  if (newest && newest >= id) id = String(BigInt(newest) + 1n);
  return id;
}

function requireSystemd(f: HostFacts, env?: string): void {
  if (!f.systemd) throw new RemoteError(f.host.label, "systemd is not running on this host (qdeploy runs apps as systemd units)");
  // A login other than root works through `sudo -n` (src/remote/sudo.ts); facts say whether it can.
  if (f.user !== "root" && !f.sudo) throw new OperationError(`${f.host.label}: user ${f.user} is not root and cannot run commands as root with sudo -n; ${sudoAdvice(f.user, env)}`);
}


/** Prints a plan: steps, the units and site in full, the env file's variable names only (`envNames`). */
function printPlan(ctx: Ctx, p: Plan, cfg: ResolvedConfig, notes: string[], platform: string, envNames: string[]): void {
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
    const releasePhase: Step[] =
      p.releasePhase && p.hosts[p.releasePhase.host] === hp
        ? [{ kind: "run", argv: p.releasePhase.argv, why: "release phase, before any host switches" }]
        : [];
    for (const [phase, steps] of [["setup", hp.setup], ["upload", hp.upload], ["release", hp.release], ["release phase", releasePhase], ["activate (once every host has its release)", hp.activate]] as const) {
      if (!steps.length) continue;
      o.result(`-- ${phase}`);
      for (const s of steps) {
        o.result(`  ${describeStep(s)}   # ${s.why}`);
        if (s.kind === "write" && !s.secret && !shown.has(s.path) && /(units\/|site\.caddy|Caddyfile)/.test(s.path)) {
          shown.add(s.path);
          o.result(s.content.replace(/^/gm, "      | ").trimEnd());
        }
        if (s.kind === "write" && s.secret) {
          o.result(s.path.endsWith("/env") ? `      | (${envNames.length} variables: ${envNames.join(", ")}; values not shown)` : "      | (not shown)");
        }
      }
    }
  }
}
