/** `qdeploy check [ENV]`: every problem in deploy.toml at once, with its line. */
import { formatProblem } from "../errors.ts";
import { loadWithPackages } from "./check-packages.ts";
import type { Ctx } from "./context.ts";

/** Prints each problem (exit 2) or a one-line summary (exit 0). */
export async function check(ctx: Ctx, env?: string): Promise<number> {
  // build.main's packages, expanded with go list: their problems, and the names commands may run;
  // and what the build would refuse or build wrong (the Go version, C code with cgo off).
  const { raw, problems } = await loadWithPackages(ctx.configFile, env, { build: true });
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
