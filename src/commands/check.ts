/** `qdeploy check [ENV]`: every problem in deploy.toml at once, with its line. */
import { loadConfig } from "../config/load.ts";
import { formatProblem } from "../errors.ts";
import { checkPackages } from "./check-packages.ts";
import type { Ctx } from "./context.ts";

/** Prints each problem (exit 2) or a one-line summary (exit 0). */
export async function check(ctx: Ctx, env?: string): Promise<number> {
  let { raw, problems } = await loadConfig(ctx.configFile, env);
  // build.main's packages, expanded with go list: their problems, and the names commands may run.
  if (raw.app !== undefined) {
    const packages = await checkPackages(raw, ctx.configFile);
    if (packages.binaries) ({ raw, problems } = await loadConfig(ctx.configFile, env, { binaries: packages.binaries }));
    problems = [...problems, ...packages.problems];
  }
  ctx.out.data({ ok: problems.length === 0, problems });
  if (problems.length) {
    for (const p of problems) ctx.out.error(formatProblem(p));
    ctx.out.info(`${problems.length} problem${problems.length === 1 ? "" : "s"} in ${ctx.configFile}`);
    return 2;
  }
  const envs = Object.keys(raw.environments ?? {});
  ctx.out.result(`${ctx.configFile}: ok (app ${raw.app}; ${env ? `environment ${env}` : `environments: ${envs.join(", ") || "none"}`})`);
  return 0;
}
