/**
 * What the server's handlers are given (createApp(deps)): the config, the operations'
 * context, tokens and runs. The real ones speak SSH and git; tests pass recording Remotes
 * and a fake checkout.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { loadConfig, loadConfigOrThrow, requireEnvironment } from "../config/load.ts";
import { resolvePreviews, resolveServe } from "../config/resolve.ts";
import type { ResolvedConfig, ResolvedPreviews, ResolvedServe } from "../config/types.ts";
import { ConfigError } from "../errors.ts";
import { loadWithPackages } from "../config/check-packages.ts";
import { type Build, type OpContext, type OpReport, sshConnect } from "../ops/context.ts";
import type { EventSink } from "../events.ts";
import { loadSecrets } from "../secrets/store.ts";
import { type Checkout, checkoutCommit } from "./checkout.ts";
import { ConnectionPool } from "./pool.ts";
import { sandboxedBuild } from "./sandboxed-build.ts";
import { Runs } from "./runs.ts";
import { defaultTokenFile, TokenStore } from "./tokens.ts";

export interface ServeDeps {
  app: string;
  /** Every environment of deploy.toml, in its order: the ones this server serves. */
  environments: string[];
  /** `[serve]`, resolved. */
  serve: ResolvedServe;
  /** `[previews]`, resolved; absent or null: the server makes no review apps. */
  previews?: ResolvedPreviews | null;
  /** Where the server keeps its own files (the webhook deliveries seen): .qdeploy/serve/ beside deploy.toml. */
  stateDir: string;
  /**
   * Loads and checks one environment, from deploy.toml or from a checkout's (ConfigError if
   * broken, NotFoundError if unknown). A checkout's is read without running go: expanding its
   * packages is its build's work, in the build sandbox.
   */
  load(env: string, configFile?: string): Promise<ResolvedConfig>;
  /** How a checked-out commit is built: in the build sandbox (./sandboxed-build.ts), never in this process. */
  commitBuild(checkout: Checkout): Build;
  /**
   * The operations' context for one environment, reporting to `report` (a run's, or a
   * request's own); `who` goes into release records and the audit log. `connections: "logs"`
   * reaches the hosts over connections of their own, kept for log streams, so those never
   * take a channel status, push or rollback need.
   */
  opContext(cfg: ResolvedConfig, report: OpReport, who: string, connections?: Connections): OpContext;
  /** One secret of an environment's store (the webhook's signing secret), or undefined. */
  secret(cfg: ResolvedConfig, name: string): Promise<string | undefined>;
  /** Fetches `ref` from [serve] remote (a branch, tag or commit) into a clean worktree. */
  checkout(ref: string, events: EventSink): Promise<Checkout>;
  tokens: TokenStore;
  runs: Runs;
  now(): Date;
  /** The server's own log (stderr): what a request's answer must not say, e.g. why a webhook secret could not be read. */
  log(line: string): void;
  /** Lets go of what the deps hold open (kept SSH connections) when the server stops. */
  close?(): Promise<void>;
}

/** Which of a host's kept connections an operation uses: the one every operation shares, or the log streams' own. */
export type Connections = "ops" | "logs";

export interface RealDepsOptions {
  configFile: string;
  identityFile?: string;
  tokenFile?: string;
  /** The server's log; default stderr. */
  log?: (line: string) => void;
}

/** How long secrets.command may take to give the webhook secret (GitHub gives up after 10 s). */
const WEBHOOK_SECRET_TIMEOUT_MS = 8000;

/** The deps `qdeploy serve` runs with: SSH, the secret store, git. */
export async function realDeps(o: RealDepsOptions): Promise<ServeDeps> {
  // A deploy.toml with problems is refused at start, every problem at once (as `check` says them).
  const loaded = await loadConfig(o.configFile);
  if (loaded.problems.length) throw new ConfigError(loaded.problems);
  const environments = Object.keys(loaded.raw.environments ?? {});
  const app = loaded.raw.app;
  const serve = resolveServe(loaded.raw, o.configFile);
  const pool = new ConnectionPool();
  const served = cachedLoad(o.configFile);
  return {
    app,
    environments,
    serve,
    previews: resolvePreviews(loaded.raw, o.configFile),
    stateDir: path.join(path.dirname(path.resolve(o.configFile)), ".qdeploy", "serve"),
    load: (env, file = o.configFile) => (file === o.configFile ? served(env) : loadConfigOrThrow(file, env)),
    commitBuild: (c) => sandboxedBuild(c),
    opContext: (cfg, { events, redactor }, who, connections = "ops") => ({
      cfg,
      // Kept open between requests (./pool.ts): a new connection was most of a GET status. Log
      // streams hold a channel each for as long as a client watches; with their own connection
      // they never fill the one status and push wait on (./log-streams.ts caps them).
      connect: (host) => pool.lease(`${connections} ${cfg.env} ${host.label} ${JSON.stringify(cfg.ssh)}`, () => sshConnect(cfg, (line) => events({ type: "debug", line }), { persistSec: 0 })(host)),
      events,
      redactor,
      who,
      // The server never queues behind another deploy: a held lock is a 409 at once.
      lockWaitSec: 0,
      ...(o.identityFile !== undefined && { identityFile: o.identityFile }),
    }),
    secret: async (cfg, name) => (await loadSecrets(cfg, { identityFile: o.identityFile, timeoutMs: WEBHOOK_SECRET_TIMEOUT_MS }))[name],
    checkout: (ref, events) => checkoutCommit({ configFile: path.resolve(o.configFile), remote: serve.remote, ref, events }),
    tokens: new TokenStore(o.tokenFile ?? defaultTokenFile(app)),
    runs: new Runs(),
    now: () => new Date(),
    log: o.log ?? ((line) => console.error(line)),
    close: () => pool.closeAll(),
  };
}

async function loadEnvironment(file: string, env: string): Promise<ResolvedConfig> {
  return requireEnvironment(file, await loadWithPackages(file, env));
}

/**
 * The served deploy.toml's environments, loaded again only when deploy.toml, the Procfile or
 * go.mod beside it changed: expanding build.main runs `go list`, a good part of a GET status.
 */
function cachedLoad(file: string): (env: string) => Promise<ResolvedConfig> {
  const dir = path.dirname(file);
  const cache = new Map<string, { stamp: string; cfg: Promise<ResolvedConfig> }>();
  return async (env) => {
    const stamp = (await Promise.all([file, path.join(dir, "Procfile"), path.join(dir, "go.mod")].map((f) => stat(f).then((s) => s.mtimeMs, () => 0)))).join(" ");
    const hit = cache.get(env);
    if (hit && hit.stamp === stamp) return hit.cfg;
    const cfg = loadEnvironment(file, env);
    cache.set(env, { stamp, cfg });
    // A failed load is not kept: the next request says what is wrong now.
    cfg.catch(() => cache.get(env)?.cfg === cfg && cache.delete(env));
    return cfg;
  };
}
