/**
 * push, rollback, promote and restart as the server starts them: as Runs (./runs.ts), calling the
 * same operations as the CLI (src/ops/). A request is answered once every host's deploy
 * lock is held, so a deploy that cannot start (lock held, broken config) is an error
 * response, not a run that fails a moment later.
 */
import { realpath } from "node:fs/promises";
import path from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { ConfigError, type ConfigProblem, NotFoundError, UsageError } from "../errors.ts";
import type { OpContext } from "../ops/context.ts";
import { Redactor } from "../secrets/redact.ts";
import * as deploy from "../ops/deploy.ts";
import type { DeployReport } from "../ops/deploy.ts";
import { announced, environmentNotifier } from "../ops/notify.ts";
import { restart as restartOp } from "../ops/host-commands.ts";
import { promote as promoteOp } from "../ops/promote.ts";
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
 * app's env. A commit that changes what the host and its other apps see (servedCommitConfig)
 * is refused. `answer`: "locked" (the API) or "started" (webhooks, which must answer fast).
 */
export function startPush(deps: ServeDeps, env: string, by: string, ref: string | null, answer: Answer = "locked"): Promise<Run> {
  return startRun(deps, env, "push", by, ref, answer, async (report) => {
    const served = await deps.load(env);
    const checkout = await deps.checkout(ref ?? "HEAD", report.events);
    try {
      const commit = await deps.load(env, checkout.configFile);
      // A committed symlink may point anywhere: the check looks at where the build would really read.
      const buildDir = commit.build.dir ?? commit.root;
      const realBuildDir = await realpath(buildDir).catch(() => buildDir);
      const cfg = servedCommitConfig(commit, served, { worktree: checkout.dir, file: path.relative(checkout.dir, checkout.configFile), realBuildDir });
      // The commit's build runs its own code (GOFLAGS, cgo, go.mod's toolchain): in the build sandbox.
      const op = { ...deps.opContext(cfg, report, serveWho(by)), build: deps.commitBuild(checkout) };
      return await announcedRun(served, op, "push", () => deploy.push(op));
    } finally {
      await checkout.remove();
    }
  });
}

/** Where a served commit was checked out (src/serve/checkout.ts). */
export interface CommitPlace {
  /** The worktree's top folder, a real path: everything in it is the commit's, nothing outside. */
  worktree: string;
  /** The commit's deploy.toml, relative to the worktree (what problems name). */
  file: string;
  /** The commit's build.dir with symlinks resolved; default: build.dir as resolved. */
  realBuildDir?: string;
}

/**
 * The config a served commit deploys with (withServedPlaces), or a ConfigError naming every
 * key the commit may not decide: what the host and its other apps see (hostKeyProblems), and
 * a build.dir outside the commit's worktree (which would build, and ship in the slug, files
 * of the server's host: the served checkout, the server's home).
 */
export function servedCommitConfig(commit: ResolvedConfig, served: ResolvedConfig, place: CommitPlace): ResolvedConfig {
  const problems = hostKeyProblems(commit, served, place.file);
  const buildDir = place.realBuildDir ?? commit.build.dir ?? commit.root;
  const rel = path.relative(place.worktree, buildDir);
  if (rel === ".." || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    problems.push({ file: place.file, path: "build.dir", message: `${buildDir} is outside the commit's checkout (${place.worktree}): a served commit builds only its own files` });
  }
  if (problems.length === 0) return withServedPlaces(commit, served);
  const e = new ConfigError(problems);
  if (problems.some((p) => p.path !== "build.dir")) {
    e.hint = `${HOST_KEYS} are what the host and its other apps see: they come from the served deploy.toml. Change them there (on a host: commit, then run qdeploy serve --install ENV again), then push`;
  }
  throw e;
}

/** The keys hostKeyProblems holds to the served deploy.toml, as the hint names them. */
const HOST_KEYS = "app, firewall and web.domains";

/**
 * What a commit may not change, since the whole host sees it: `app` names the directory,
 * units, deploy lock, Caddy site, firewall ports file and web ports the deploy takes over
 * (another app's, if the commit names that app); `firewall` is the host's inbound policy (all
 * apps' ports make one ruleset); `web.domains` are names the host's Caddy answers for, so a
 * commit may drop one but not add one (another app's or the dashboard's: an exact name Caddy
 * refuses as ambiguous, but an http:// one, with tls = "off", it would route; or any name,
 * for which Caddy then asks ACME). Everything else only changes this app, and stays the commit's.
 */
function hostKeyProblems(commit: ResolvedConfig, served: ResolvedConfig, file: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const changed = (key: string, to: unknown, was: unknown) =>
    problems.push({ file, path: key, message: `the commit changes it to ${show(to)}; the served deploy.toml says ${show(was)}` });
  if (commit.app !== served.app) changed("app", commit.app, served.app);
  if ((commit.firewall === null) !== (served.firewall === null)) changed("firewall.enabled", commit.firewall !== null, served.firewall !== null);
  else if (commit.firewall && served.firewall && show(commit.firewall.allow) !== show(served.firewall.allow)) changed("firewall.allow", commit.firewall.allow, served.firewall.allow);
  // Host names are case-insensitive: a domain spelled in other letters is not a new one.
  const known = new Set((served.web?.domains ?? []).map((d) => d.toLowerCase()));
  const added = (commit.web?.domains ?? []).filter((d) => !known.has(d.toLowerCase()));
  if (added.length) {
    problems.push({ file, path: "web.domains", message: `the commit adds ${added.map(show).join(", ")}; the served deploy.toml has ${show(served.web?.domains ?? [])}` });
  }
  return problems;
}

/** A value as deploy.toml would write it (close enough): "text", 443, [22, 80]. */
function show(v: unknown): string {
  return Array.isArray(v) ? `[${v.map(show).join(", ")}]` : JSON.stringify(v);
}

/**
 * A commit's config with the served config's hosts, SSH, secret store and [serve] (and its
 * root, which their paths are relative to). build.dir is pinned to the commit's folder first:
 * the build falls back to root, which is now the served checkout's.
 */
export function withServedPlaces(commit: ResolvedConfig, served: ResolvedConfig): ResolvedConfig {
  const { root, hosts, roles, ssh, secrets, serve } = served;
  return { ...commit, build: { ...commit.build, dir: commit.build.dir ?? commit.root }, root, hosts, roles, ssh, secrets, serve };
}

/** `POST rollback`: to the previous good release, or the one named. */
export function startRollback(deps: ServeDeps, env: string, by: string, release: string | null): Promise<Run> {
  return startRun(deps, env, "rollback", by, release, "locked", async (report) => {
    const cfg = await deps.load(env);
    const op = deps.opContext(cfg, report, serveWho(by));
    return announcedRun(cfg, op, "rollback", () => deploy.rollback(op, release));
  });
}

/**
 * `POST promote`: the live release of `from` (or the one named) to `env`, byte for byte, with
 * env's config and secrets (src/ops/promote.ts). Both must be served. No build, no checkout:
 * the bytes are what `from`'s hosts run, read from them.
 */
export function startPromote(deps: ServeDeps, env: string, by: string, from: string, release: string | null): Promise<Run> {
  requireServed(deps, from);
  if (from === env) throw new UsageError(`promote: ${env} to itself; rollback goes back to an earlier release of one environment`);
  return startRun(deps, env, "promote", by, release ? `${from} ${release}` : from, "locked", async (report) => {
    const [source, cfg] = await Promise.all([deps.load(from), deps.load(env)]);
    const op = deps.opContext(cfg, report, serveWho(by));
    return announcedRun(cfg, op, "promote", () => promoteOp(deps.opContext(source, report, serveWho(by)), op, release));
  });
}

/** `POST restart`: the zero-downtime restart, of one process or all. It takes no deploy lock: answered at once. */
export async function startRestart(deps: ServeDeps, env: string, by: string, proc: string | null): Promise<Run> {
  // A wrong process is the request's error (400), not a run that fails.
  const cfg = await deps.load(requireServed(deps, env));
  if (proc && cfg.processes[proc] === undefined) {
    throw new UsageError(`no process "${proc}" (processes: ${Object.keys(cfg.processes).join(", ")})`);
  }
  return startRun(deps, env, "restart", by, proc, "started", (report) => restartOp(deps.opContext(cfg, report, serveWho(by)), proc));
}

/**
 * A deploy the server runs, announced like the CLI's ([[notify]]: started, then succeeded or
 * failed) to the targets of the served deploy.toml, never a pushed commit's: a commit naming
 * its own target could send the events anywhere, keyed with any secret of the store.
 */
async function announcedRun(served: ResolvedConfig, op: OpContext, action: DeployReport["action"], run: () => Promise<DeployReport>): Promise<DeployReport> {
  const notes = await environmentNotifier({ ...op, cfg: served });
  return announced(notes, op.redactor, { action, hosts: served.hosts.map((h) => h.label) }, run);
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

/**
 * A read-only operation (status, releases, audit, logs) on one served environment; its events
 * are not kept. What it returns goes out as is: text that may hold a secret (a log line) is
 * for `f` to redact with op.redactor.
 */
export async function inspect<T>(deps: ServeDeps, env: string, by: string, f: (op: OpContext) => Promise<T>): Promise<T> {
  const cfg = await deps.load(requireServed(deps, env));
  return f(deps.opContext(cfg, { events: () => {}, redactor: new Redactor() }, serveWho(by)));
}
