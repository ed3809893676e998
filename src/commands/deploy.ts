/**
 * push, rollback, setup and plan as the CLI runs them: the operations (src/ops/) do the work
 * and return data; these print it.
 */
import type { ResolvedConfig } from "../config/types.ts";
import type { BootstrapOptions } from "../ops/bootstrap.ts";
import * as ops from "../ops/deploy.ts";
import { type PushPreview, previewPush } from "../ops/preview-push.ts";
import { type SetupReport, setup as setupHosts } from "../ops/setup.ts";
import { describeStep, type Step } from "../plan/steps.ts";
import { planWaves } from "../plan/waves.ts";
import { formatBytes } from "../remote/run-plan.ts";
import { type Ctx, loadEnvironment, opContext } from "./context.ts";

export type { DeployReport } from "../ops/deploy.ts";

/** `qdeploy push ENV [--hosts H,..] [--role R] [--no-revert]` */
export async function push(ctx: Ctx, env: string, opts: ops.DeployOptions = {}): Promise<ops.DeployReport> {
  const cfg = await loadEnvironment(ctx, env, { build: true });
  return printReport(ctx, cfg, await ops.push(opContext(ctx, cfg), opts));
}

/** `qdeploy rollback ENV [RELEASE] [--hosts H,..] [--role R] [--no-revert]` */
export async function rollback(ctx: Ctx, env: string, named: string | null, opts: ops.DeployOptions = {}): Promise<ops.DeployReport> {
  const cfg = await loadEnvironment(ctx, env);
  return printReport(ctx, cfg, await ops.rollback(opContext(ctx, cfg), named, opts));
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
