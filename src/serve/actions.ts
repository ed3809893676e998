/**
 * push, rollback and restart as the server starts them: as Runs (./runs.ts), calling the
 * same operations as the CLI (src/ops/). A request is answered once every host's deploy
 * lock is held, so a deploy that cannot start (lock held, broken config) is an error
 * response, not a run that fails a moment later.
 */
import type { ResolvedConfig } from "../config/types.ts";
import { NotFoundError, UsageError } from "../errors.ts";
import type { OpContext } from "../ops/context.ts";
import * as deploy from "../ops/deploy.ts";
import { restart as restartOp } from "../ops/host-commands.ts";
import type { ServeDeps } from "./deps.ts";
import type { Run, RunAction } from "./runs.ts";

/** The name of the environment if this server serves it; NotFoundError (404) if not. */
export function requireServed(deps: ServeDeps, env: string): string {
  if (!deps.environments.includes(env)) throw new NotFoundError(`no environment "${env}" (served: ${deps.environments.join(", ") || "none"})`);
  return env;
}

/** Who the hosts record (release.json's by, the audit log, the lock holder) for a request by this token or hook. */
export function serveWho(by: string): string {
  return `${by}@qdeploy-serve`;
}

/**
 * `POST push`: fetches `ref` (default HEAD) from [serve] remote into a clean worktree and
 * pushes that commit, never the server's own working tree. What the commit says of the app
 * (build, processes, web, env, jobs) comes from its deploy.toml; where it goes and with what
 * (hosts, roles, ssh, secrets, [serve]) from the served one, so a branch cannot send itself
 * to other hosts, run a secrets command of its own or rename the webhook secret into the
 * app's env. `answer`: "locked" (the API) or "started" (webhooks, which must answer fast).
 */
export function startPush(deps: ServeDeps, env: string, by: string, ref: string | null, answer: Answer = "locked"): Promise<Run> {
  return startRun(deps, env, "push", by, ref, answer, async (events) => {
    const served = await deps.load(env);
    const checkout = await deps.checkout(ref ?? "HEAD", events);
    try {
      const cfg = withServedPlaces(await deps.load(env, checkout.configFile), served);
      // The commit's build runs its own code (GOFLAGS, cgo, go.mod's toolchain): in the build sandbox.
      return await deploy.push({ ...deps.opContext(cfg, events, serveWho(by)), build: deps.commitBuild(checkout) });
    } finally {
      await checkout.remove();
    }
  });
}

/** A commit's config with the served config's hosts, SSH, secret store and [serve] (and its root, which their paths are relative to). */
export function withServedPlaces(commit: ResolvedConfig, served: ResolvedConfig): ResolvedConfig {
  const { root, hosts, roles, ssh, secrets, serve } = served;
  return { ...commit, root, hosts, roles, ssh, secrets, serve };
}

/** `POST rollback`: to the previous good release, or the one named. */
export function startRollback(deps: ServeDeps, env: string, by: string, release: string | null): Promise<Run> {
  return startRun(deps, env, "rollback", by, release, "locked", async (events) => {
    const cfg = await deps.load(env);
    return deploy.rollback(deps.opContext(cfg, events, serveWho(by)), release);
  });
}

/** `POST restart`: the zero-downtime restart, of one process or all. It takes no deploy lock: answered at once. */
export async function startRestart(deps: ServeDeps, env: string, by: string, proc: string | null): Promise<Run> {
  // A wrong process is the request's error (400), not a run that fails.
  const cfg = await deps.load(requireServed(deps, env));
  if (proc && cfg.processes[proc] === undefined) {
    throw new UsageError(`no process "${proc}" (processes: ${Object.keys(cfg.processes).join(", ")})`);
  }
  return startRun(deps, env, "restart", by, proc, "started", (events) => restartOp(deps.opContext(cfg, events, serveWho(by)), proc));
}

/** When a start is answered: once every host's lock is held, or at once. */
export type Answer = "locked" | "started";

/**
 * Starts a Run; with "locked", waits until it holds every host's lock. A run that ended
 * before that throws its error (LockHeldError: 409), so the caller answers with it; else
 * the run goes on in the background.
 */
async function startRun(deps: ServeDeps, env: string, action: RunAction, by: string, target: string | null, answer: Answer, work: Parameters<ServeDeps["runs"]["start"]>[1]): Promise<Run> {
  requireServed(deps, env);
  const run = deps.runs.start({ env, action, by, target }, work);
  if (answer === "started") return run;
  await run.lockedOrDone;
  if (run.record.state === "failed" && !run.events.some((e) => e.type === "locked")) throw run.failure;
  return run;
}

/** A read-only operation (status, releases, audit) on one served environment; its events are not kept. */
export async function inspect<T>(deps: ServeDeps, env: string, by: string, f: (op: OpContext) => Promise<T>): Promise<T> {
  const cfg = await deps.load(requireServed(deps, env));
  return f(deps.opContext(cfg, () => {}, serveWho(by)));
}
