/**
 * push, rollback and restart as the server starts them: as Runs (./runs.ts), calling the
 * same operations as the CLI (src/ops/). A request is answered once every host's deploy
 * lock is held, so a deploy that cannot start (lock held, broken config) is an error
 * response, not a run that fails a moment later.
 */
import { NotFoundError } from "../errors.ts";
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
 * pushes what that commit's deploy.toml says, never the server's own working tree.
 */
export function startPush(deps: ServeDeps, env: string, by: string, ref: string | null): Promise<Run> {
  return startRun(deps, env, "push", by, ref, async (events) => {
    const checkout = await deps.checkout(ref ?? "HEAD", events);
    try {
      const cfg = await deps.load(env, checkout.configFile);
      return await deploy.push(deps.opContext(cfg, events, serveWho(by)));
    } finally {
      await checkout.remove();
    }
  });
}

/** `POST rollback`: to the previous good release, or the one named. */
export function startRollback(deps: ServeDeps, env: string, by: string, release: string | null): Promise<Run> {
  return startRun(deps, env, "rollback", by, release, async (events) => {
    const cfg = await deps.load(env);
    return deploy.rollback(deps.opContext(cfg, events, serveWho(by)), release);
  });
}

/** `POST restart`: the zero-downtime restart, of one process or all. It takes no deploy lock: answered at once. */
export function startRestart(deps: ServeDeps, env: string, by: string, proc: string | null): Promise<Run> {
  return startRun(deps, env, "restart", by, proc, async (events) => {
    const cfg = await deps.load(env);
    return restartOp(deps.opContext(cfg, events, serveWho(by)), proc);
  });
}

/**
 * Starts a Run and waits until it holds every host's lock (or, for restart, has started). A
 * run that ended before that throws its error (LockHeldError: 409), so the caller answers
 * with it; else the run goes on in the background.
 */
async function startRun(deps: ServeDeps, env: string, action: RunAction, by: string, target: string | null, work: Parameters<ServeDeps["runs"]["start"]>[1]): Promise<Run> {
  requireServed(deps, env);
  const run = deps.runs.start({ env, action, by, target }, work);
  if (action !== "restart") await run.lockedOrDone;
  if (run.record.state === "failed" && !run.events.some((e) => e.type === "locked")) throw run.failure;
  return run;
}

/** A read-only operation (status, releases, audit) on one served environment; its events are not kept. */
export async function inspect<T>(deps: ServeDeps, env: string, by: string, f: (op: OpContext) => Promise<T>): Promise<T> {
  const cfg = await deps.load(requireServed(deps, env));
  return f(deps.opContext(cfg, () => {}, serveWho(by)));
}
