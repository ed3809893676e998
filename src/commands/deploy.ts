/**
 * push, rollback, setup and plan as the CLI runs them: the operations (src/ops/) do the work
 * and return data; these print it.
 */
import { goTarget, platformName } from "../build/arch.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { freshHostFacts } from "../plan/facts.ts";
import { hostConfig } from "../plan/fleet.ts";
import { planPush } from "../plan/push.ts";
import { releaseId, releaseVars } from "../plan/release.ts";
import { planSetup } from "../plan/setup.ts";
import { describeStep, type Plan, type Step } from "../plan/steps.ts";
import { planWaves } from "../plan/waves.ts";
import { gatherFacts } from "../remote/host-ops.ts";
import { formatBytes, runBatch } from "../remote/run-plan.ts";
import { loadSecrets } from "../secrets/store.ts";
import * as ops from "../ops/deploy.ts";
import { requireSystemd, withConnections } from "../ops/sessions.ts";
import { writeSlugPacks } from "../ops/slug-packs.ts";
import { type BootstrapOptions, bootstrapHosts } from "./bootstrap.ts";
import { buildDir, buildForArchs } from "../build/builds.ts";
import { printEvents } from "../output.ts";
import { type Ctx, loadEnvironment, opContext, whoAmI } from "./context.ts";

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
export async function setup(ctx: Ctx, env: string, bootstrap?: BootstrapOptions): Promise<void> {
  const cfg = await loadEnvironment(ctx, env);
  if (bootstrap) await bootstrapHosts(ctx, cfg, bootstrap);
  const op = opContext(ctx, cfg);
  await withConnections(cfg.hosts, op.connect, (connections) =>
    Promise.all(
      connections.map(async ({ host, remote }) => {
        const facts = await gatherFacts(remote, host, cfg.app);
        requireSystemd(facts, cfg.env);
        await runBatch(remote, planSetup(hostConfig(cfg, host), facts, true), op.events);
        ctx.out.result(`${remote.label} ready for ${cfg.app}`);
      }),
    ),
  );
}

/** `qdeploy plan ENV`: what push would do on a fresh host of this arch, touching no server. */
export async function plan(ctx: Ctx, env: string, arch: string): Promise<Plan> {
  const cfg = await loadEnvironment(ctx, env, { build: true });
  goTarget(arch); // a clear error for an unknown arch before building
  let secrets: Record<string, string> = {};
  const notes: string[] = [];
  try {
    secrets = await loadSecrets(cfg, { identityFile: ctx.identityFile });
  } catch (e) {
    notes.push(`secrets not loaded (${(e as Error).message.split("\n")[0]}); push needs them`);
  }
  // go's output or a unit's text could echo a value: what this prints, errors too, hides them.
  ctx.redactor.hide(Object.values(secrets));
  const builds = await buildForArchs(cfg, [arch], printEvents(ctx.out));
  const facts = cfg.hosts.map((host) => freshHostFacts(host, arch));
  const now = new Date();
  const packs = builds.slug ? await writeSlugPacks(builds.slug, facts, builds.artifacts, buildDir(cfg)) : {};
  const p = planPush({ config: cfg, facts, artifacts: builds.artifacts, releaseId: releaseId(now), created: now.toISOString(), git: builds.git, who: whoAmI(), secrets, newDigestKey: ops.newDigestKey(), slug: builds.slug, packs });
  // The env file's names come from the variables themselves: its text cannot be split into
  // lines to find them, since a value (a PEM key) may hold newlines.
  printPlan(ctx, p, cfg, notes, platformName(goTarget(arch)), Object.keys(releaseVars(cfg, secrets)).sort());
  return p;
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
