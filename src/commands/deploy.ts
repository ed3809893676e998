/**
 * push, rollback, setup and plan as the CLI runs them: the operations (src/ops/) do the work
 * and return data; these print it.
 */
import { HOOK_NAMES, type HookName, type ResolvedConfig } from "../config/types.ts";
import { UsageError } from "../errors.ts";
import type { BootstrapOptions } from "../ops/bootstrap.ts";
import type { OpContext } from "../ops/context.ts";
import * as ops from "../ops/deploy.ts";
import { type PushPreview, previewPush } from "../ops/preview-push.ts";
import { type SetupReport, setup as setupHosts } from "../ops/setup.ts";
import { type HookFacts, type HookRunner, hookRunner } from "../ops/hooks.ts";
import { announced, environmentNotifier } from "../ops/notify.ts";
import { promote as promoteOp } from "../ops/promote.ts";
import { selectHosts } from "../ops/sessions.ts";
import type { Redactor } from "../secrets/redact.ts";
import { describeStep, type Step } from "../plan/steps.ts";
import { planWaves } from "../plan/waves.ts";
import { formatBytes } from "../remote/run-plan.ts";
import { systemdSpan } from "../util/duration.ts";
import { type Ctx, loadEnvironment, opContext } from "./context.ts";

export type { DeployReport } from "../ops/deploy.ts";

/** The CLI's push and rollback options: the operation's, and whether [hooks] run (--no-hooks: not). */
export type CliDeployOptions = Omit<ops.DeployOptions, "beforeRelease"> & { hooks?: boolean };

/** `qdeploy push ENV [--hosts H,..] [--role R] [--no-revert] [--no-hooks]` */
export async function push(ctx: Ctx, env: string, opts: CliDeployOptions = {}): Promise<ops.DeployReport> {
  const cfg = await loadEnvironment(ctx, env, { build: true });
  return deployed(ctx, cfg, "push", opts, { before: "pre_build", after: "post_deploy" }, (op, o) => ops.push(op, o));
}

/** `qdeploy rollback ENV [RELEASE] [--hosts H,..] [--role R] [--no-revert] [--no-hooks]` */
export async function rollback(ctx: Ctx, env: string, named: string | null, opts: CliDeployOptions = {}): Promise<ops.DeployReport> {
  return deployed(ctx, await loadEnvironment(ctx, env), "rollback", opts, { after: "post_rollback" }, (op, o) => ops.rollback(op, named, o));
}

/**
 * `qdeploy promote FROM TO [RELEASE] [--hosts H,..] [--role R] [--no-revert] [--no-hooks]`:
 * TO's pre_deploy, post_deploy, on_failure and remote_post_deploy hooks run (nothing is built: no pre_build).
 */
export async function promote(ctx: Ctx, fromEnv: string, env: string, named: string | null, opts: CliDeployOptions = {}): Promise<ops.DeployReport> {
  if (fromEnv === env) throw new UsageError(`promote: ${env} to itself; rollback goes back to an earlier release of one environment`);
  const from = opContext(ctx, await loadEnvironment(ctx, fromEnv));
  return deployed(ctx, await loadEnvironment(ctx, env), "promote", opts, { after: "post_deploy" }, (op, o) => promoteOp(from, op, named, o));
}

/**
 * A push, rollback or promotion as the CLI runs it: [[notify]] told of it; `around.before`
 * first, pre_deploy as its last word before a release is written, `around.after` once it is
 * live, on_failure when it throws (--no-hooks: none of them, nor remote_post_deploy); the
 * report printed.
 */
async function deployed(
  ctx: Ctx,
  cfg: ResolvedConfig,
  action: ops.DeployReport["action"],
  opts: CliDeployOptions,
  around: { before?: HookName; after: HookName },
  run: (op: OpContext, o: ops.DeployOptions) => Promise<ops.DeployReport>,
): Promise<ops.DeployReport> {
  const op = opContext(ctx, cfg);
  const hooks = hookRunner(cfg, op.who, op.events, opts.hooks !== false);
  const facts = { action, hosts: selectHosts(cfg, opts.filter).map((h) => h.label) };
  return announced(await environmentNotifier(op), ctx.redactor, facts, () =>
    withFailureHook(hooks, facts, ctx.redactor, async () => {
      if (around.before) await hooks.run(around.before, facts);
      const r = await run(op, { ...opts, remoteHooks: opts.hooks !== false, beforeRelease: (release, commit) => hooks.run("pre_deploy", { ...facts, release, commit }) });
      await hooks.run(around.after, { ...facts, release: r.release, commit: r.commit, outcome: "succeeded" });
      return printReport(ctx, cfg, r);
    }),
  );
}

/** Runs `deploy`; when it throws, on_failure runs (told the error's first line, redacted) before the error goes on. */
async function withFailureHook<T>(hooks: HookRunner, facts: HookFacts, redactor: Redactor, deploy: () => Promise<T>): Promise<T> {
  try {
    return await deploy();
  } catch (e) {
    const error = redactor.redact((e instanceof Error ? e.message : String(e)).split("\n")[0]!);
    await hooks.run("on_failure", { ...facts, outcome: "failed", error });
    throw e;
  }
}

/** One line per host, then the site's addresses. */
function printReport(ctx: Ctx, cfg: ResolvedConfig, r: ops.DeployReport): ops.DeployReport {
  for (const h of r.hosts) {
    ctx.out.result(`${h.label} ${cfg.app} ${r.release} live (${r.action} ${r.seconds.total.toFixed(1)}s, ${formatBytes(h.bytesSent)} sent)`);
  }
  for (const u of r.urls) ctx.out.result(u);
  return r;
}

/** `qdeploy setup ENV [--bootstrap]`: prepares the hosts (idempotent); first makes the deploy user with --bootstrap. */
export async function setup(ctx: Ctx, env: string, bootstrap?: BootstrapOptions): Promise<SetupReport> {
  const cfg = await loadEnvironment(ctx, env);
  const r = await setupHosts(opContext(ctx, cfg), bootstrap ? { bootstrap } : {});
  for (const host of r.ready) ctx.out.result(`${host} ready for ${cfg.app}`);
  return r;
}

/** `qdeploy plan ENV`: what push would do on a fresh host of this arch, touching no server. */
export async function plan(ctx: Ctx, env: string, arch: string): Promise<PushPreview> {
  const cfg = await loadEnvironment(ctx, env, { build: true });
  const preview = await previewPush(opContext(ctx, cfg), arch);
  printPlan(ctx, preview, cfg);
  return preview;
}

/** Prints a plan: steps, the units and site in full, the env file's variable names only. */
function printPlan(ctx: Ctx, { plan: p, notes, platform, envNames }: PushPreview, cfg: ResolvedConfig): void {
  const o = ctx.out;
  if (o.json) {
    // The op masks a secret file's content with its size in "*"; JSON says so in words.
    o.data({ ...p, hosts: p.hosts.map((h) => ({ ...h, release: h.release.map((s) => (s.kind === "write" && s.secret ? { ...s, content: "[secret]" } : s)) })) });
    return;
  }
  o.result(`plan: push ${cfg.app} to ${cfg.env} as release ${p.release} (${platform}; assumes fresh hosts, touches none)`);
  for (const n of notes) o.result(`note: ${n}`);
  // On this machine, around the steps below (--no-hooks skips them).
  for (const name of HOOK_NAMES) {
    const command = cfg.hooks.commands[name];
    if (command !== undefined) o.result(`hook ${name}: ${command}   # bash -c, in ${cfg.root}, at most ${systemdSpan(cfg.hooks.timeoutSec)}`);
  }
  if (cfg.hooks.remotePostDeploy) o.result(`hook remote_post_deploy: ${cfg.hooks.remotePostDeploy}   # on every host once live, as the app in its release, at most ${systemdSpan(cfg.hooks.timeoutSec)}`);
  if (p.hosts.length > 1) {
    const waves = planWaves(p.hosts, cfg.rollout).map((w, i) => `${i + 1}) ${w.map((hp) => hp.host.label).join(", ")}`);
    o.result(`switch in waves${cfg.rollout.pauseSec ? ` ${cfg.rollout.pauseSec}s apart` : ""}: ${waves.join("  ")}`);
  }
  const shown = new Set<string>();
  for (const hp of p.hosts) {
    o.result(`\n== ${hp.host.label}`);
    for (const n of hp.notes) o.result(`note: ${n}`);
    const releasePhase: Step[] =
      p.releasePhase && p.releasePhase.host === hp.host.label
        ? [{ kind: "run", argv: p.releasePhase.argv, why: "release phase, before any host switches" }]
        : [];
    for (const [phase, steps] of [["setup", hp.setup], ["upload", hp.upload], ["release", hp.release], ["release phase", releasePhase], ["stage (every host, before the first wave)", hp.stage], ["activate (once every host has its release)", hp.activate]] as const) {
      if (!steps.length) continue;
      o.result(`-- ${phase}`);
      for (const s of steps) {
        o.result(`  ${describeStep(s)}   # ${s.why}`);
        if (s.kind === "write" && !s.secret && !shown.has(s.path) && /(units\/|site\.caddy|Caddyfile|logdrain)/.test(s.path)) {
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
