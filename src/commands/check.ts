/**
 * `qdeploy check [ENV]`: every problem in deploy.toml at once, with its line; and, when the
 * app has a Heroku app.json beside deploy.toml, the config vars it requires that an
 * environment has neither as a secret nor in [env] (src/config/app-json.ts).
 */
import path from "node:path";
import { missingVarProblems, readAppJson, appVarNeeds, type AppJson, type StoreRef } from "../config/app-json.ts";
import { resolveEnvironment } from "../config/resolve.ts";
import type { RawConfig, ResolvedConfig } from "../config/types.ts";
import { formatProblem, QdeployError, type ConfigProblem } from "../errors.ts";
import { ageFiles } from "../secrets/age-store.ts";
import { openSecretStore } from "../secrets/store.ts";
import { loadWithPackages } from "../config/check-packages.ts";
import type { Ctx } from "./context.ts";

/**
 * Prints each problem (exit 2) or a one-line summary (exit 0). `environ`: what the secret
 * stores read (QDEPLOY_AGE_KEY, the default identity's folder, store "env"'s variables).
 */
export async function check(ctx: Ctx, env?: string, environ: Record<string, string | undefined> = process.env): Promise<number> {
  // build.main's packages, expanded with go list: their problems, and the names commands may run;
  // and what the build would refuse or build wrong (the Go version, C code with cgo off).
  const { raw, problems } = await loadWithPackages(ctx.configFile, env, { build: true });
  const appJson = await readAppJson(path.dirname(ctx.configFile), path.join(path.dirname(ctx.configFile), "app.json"));
  problems.push(...appJson.problems);
  const checked: string[] = [];
  // For --json: per environment, the store its names were read from, or why they were not.
  const stores: ({ env: string; read: string } | { env: string; skipped: string })[] = [];
  if (problems.length === 0 && appJson.manifest && appVarNeeds(appJson.manifest).length > 0) {
    const names = env !== undefined ? [env] : Object.keys(raw.environments ?? {});
    for (const name of names) {
      const result = await checkAppVars(appJson.manifest, raw, name, ctx, environ);
      if ("skipped" in result) {
        ctx.out.warn(`app.json: ${name}'s required config vars not checked: ${result.skipped}`);
        stores.push({ env: name, skipped: result.skipped });
        continue;
      }
      stores.push({ env: name, read: result.where });
      if (result.problems.length) problems.push(...result.problems);
      else checked.push(`app.json: ${name} has every config var it requires (checked against ${result.where} and [env])`);
    }
  }
  ctx.out.data({ ok: problems.length === 0, problems, ...(stores.length > 0 && { appJson: stores }) });
  if (problems.length) {
    for (const p of problems) ctx.out.error(formatProblem(p));
    const files = [...new Set(problems.map((p) => p.file))];
    ctx.out.info(`${problems.length} problem${problems.length === 1 ? "" : "s"} in ${files.join(", ")}`);
    return 2;
  }
  const envs = Object.keys(raw.environments ?? {});
  ctx.out.result(`${ctx.configFile}: ok (app ${raw.app}; ${env ? `environment ${env}` : `environments: ${envs.join(", ") || "none"}`})`);
  for (const line of checked) ctx.out.result(line);
  return 0;
}

/**
 * app.json's required vars against one environment: the names its secret store holds (age:
 * the file decrypted with the identity, when it can be here; env: secrets.names) and its
 * [env]. A store that cannot be read here, or one that would run a program (command), is
 * skipped with the reason: check stays offline and runs nothing of the user's.
 */
async function checkAppVars(
  manifest: AppJson,
  raw: RawConfig,
  env: string,
  ctx: Ctx,
  environ: Record<string, string | undefined>,
): Promise<{ problems: ConfigProblem[]; where: string } | { skipped: string }> {
  const cfg: ResolvedConfig = resolveEnvironment(raw, env, path.resolve(path.dirname(ctx.configFile)), ctx.configFile);
  let names: string[];
  let store: StoreRef;
  switch (cfg.secrets.store) {
    case "env":
      names = cfg.secrets.names ?? [];
      store = { kind: "env", where: "secrets.names" };
      break;
    case "command":
      return { skipped: 'secrets.store "command" runs a program, which check does not; push reads it' };
    default: {
      const where = ageFiles(cfg.root, cfg.env, cfg.secrets).show(ageFiles(cfg.root, cfg.env, cfg.secrets).file);
      try {
        names = Object.keys(await openSecretStore(cfg, { identityFile: ctx.identityFile, environ }).read());
      } catch (e) {
        if (!(e instanceof QdeployError)) throw e;
        return { skipped: `${where} cannot be read here: ${e.message}` };
      }
      store = { kind: "age", where };
    }
  }
  // An add-on's variable is set by the add-on (src/ops/addons.ts), as Heroku's is.
  const vars = { ...cfg.vars, ...Object.fromEntries(cfg.addons.map((a) => [a.var, `add-on ${a.name}`])) };
  return { problems: missingVarProblems(manifest, { env, vars, secrets: names, store }), where: store.where };
}
