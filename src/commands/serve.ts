/** `qdeploy serve`: the API and dashboard until SIGINT/SIGTERM; `qdeploy serve token add|list|remove`. */
import { loadConfig } from "../config/load.ts";
import { parseDuration } from "../util/duration.ts";
import { parseListen } from "../config/resolve.ts";
import { ConfigError, NotFoundError, UsageError } from "../errors.ts";
import { realDeps } from "../serve/deps.ts";
import { startPreviewSweeps } from "../serve/preview-sweep.ts";
import { startServer } from "../serve/serve.ts";
import { defaultTokenFile, ROLES, type Role, TokenStore } from "../serve/tokens.ts";
import type { Ctx } from "./context.ts";

export interface ServeOptions {
  /** --listen HOST:PORT; default [serve] listen. */
  listen?: string;
}

/** Runs the server until SIGINT or SIGTERM, then stops it (open streams closed) and returns 0. */
export async function serve(ctx: Ctx, o: ServeOptions): Promise<number> {
  const deps = await realDeps({ configFile: ctx.configFile, log: (l) => ctx.out.warn(l), ...(ctx.identityFile !== undefined && { identityFile: ctx.identityFile }) });
  const listen = o.listen === undefined ? deps.serve.listen : parseListen(o.listen);
  if (typeof listen === "string") throw new UsageError(`--listen: ${listen}`);
  const server = startServer(deps, listen, (l) => ctx.out.warn(l));
  const stopSweeps = startPreviewSweeps(deps);
  // Before anything is awaited: a SIGTERM the moment it listens still stops it cleanly (its
  // socket removed), instead of killing it (seen under load: exit 143, a stale socket left).
  const stopped = new Promise<string>((resolve) => {
    for (const s of ["SIGINT", "SIGTERM"] as const) process.once(s, () => resolve(s));
  });
  ctx.out.result(`listening on ${server.url}`);
  ctx.out.result(`environments: ${deps.environments.join(", ") || "none"}; tokens: ${deps.tokens.file}`);
  if (!(await deps.tokens.list()).length) ctx.out.warn("no API token yet: qdeploy serve token add NAME --role read|deploy");
  const signal = await stopped;
  ctx.out.info(`${signal}: stopping`);
  stopSweeps();
  await server.stop();
  // A deploy cut off midway would leave a fleet half switched: let the running ones end first.
  const running = deps.runs.list().filter((r) => r.state === "running");
  if (running.length) {
    ctx.out.info(`waiting for ${running.map((r) => `${r.action} of ${r.env} (${r.id})`).join(", ")} to end`);
    await Promise.all(running.map((r) => deps.runs.get(r.id)?.done));
  }
  await deps.close?.();
  return 0;
}

/** The token file: $QDEPLOY_SERVE_TOKENS, else the app's default (deploy.toml names the app). */
async function tokenStore(ctx: Ctx): Promise<TokenStore> {
  if (process.env.QDEPLOY_SERVE_TOKENS) return new TokenStore(process.env.QDEPLOY_SERVE_TOKENS);
  const loaded = await loadConfig(ctx.configFile);
  if (typeof loaded.raw.app !== "string") throw new ConfigError(loaded.problems.length ? loaded.problems : [{ file: ctx.configFile, path: "app", message: "is missing" }]);
  return new TokenStore(defaultTokenFile(loaded.raw.app));
}

/** `serve token add NAME --role R [--expires 30d]`, `token list`, `token remove NAME`. */
export async function serveToken(ctx: Ctx, sub: string | undefined, name: string | undefined, o: { role?: string; expires?: string }): Promise<number> {
  const usage = "usage: qdeploy serve token add NAME --role read|deploy [--expires 30d] | list | remove NAME";
  if (sub === "add") {
    if (!name) throw new UsageError(usage);
    if (!o.role || !ROLES.includes(o.role as Role)) throw new UsageError(`--role must be ${ROLES.join(" or ")}${o.role ? `, not "${o.role}"` : ""}`);
    let expiresSec: number | undefined;
    if (o.expires !== undefined) {
      try {
        expiresSec = parseDuration(o.expires);
      } catch (e) {
        throw new UsageError(`--expires: ${(e as Error).message}`);
      }
      if (!(expiresSec > 0)) throw new UsageError("--expires must be more than 0");
    }
    const store = await tokenStore(ctx);
    const { token, entry } = await store.add(name, o.role as Role, expiresSec ? { expiresSec } : {});
    // The token alone on stdout (for `$(...)`); the note on stderr.
    process.stdout.write(`${token}\n`);
    process.stderr.write(`token "${entry.name}" (${entry.role}${entry.expires ? `, expires ${entry.expires}` : ""}) added to ${store.file}; it is not shown again\n`);
    return 0;
  }
  if (sub === "list") {
    const entries = (await (await tokenStore(ctx)).list()).map(({ name, role, created, expires }) => ({ name, role, created, expires }));
    ctx.out.data(entries);
    if (!entries.length) ctx.out.result("no tokens (qdeploy serve token add NAME --role read|deploy)");
    for (const e of entries) ctx.out.result(`${e.name}\t${e.role}\tcreated ${e.created}\t${e.expires ? `expires ${e.expires}` : "never expires"}`);
    return 0;
  }
  if (sub === "remove") {
    if (!name) throw new UsageError(usage);
    const store = await tokenStore(ctx);
    if (!(await store.remove(name))) throw new NotFoundError(`no token named "${name}" in ${store.file}`);
    ctx.out.result(`removed token "${name}"`);
    return 0;
  }
  throw new UsageError(usage);
}
