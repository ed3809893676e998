/** What every command gets: flags, output, and helpers to reach deploy.toml and the hosts. */
import os from "node:os";
import path from "node:path";
import { requireEnvironment } from "../config/load.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { type Output, printEvents } from "../output.ts";
import type { Remote } from "../remote/remote.ts";
import { type CheckOptions, loadWithPackages } from "../config/check-packages.ts";
import { type ConnectOptions, openRemotes } from "../remote/ssh.ts";
import { type OpContext, sshConnect } from "../ops/context.ts";
import type { Redactor } from "../secrets/redact.ts";

export interface Ctx {
  /** Everything the command prints (src/cli.ts makes it redact with `redactor`). */
  out: Output;
  /** The secret values read in this process, hidden from all it prints (its errors too). */
  redactor: Redactor;
  /** deploy.toml as the user named it. */
  configFile: string;
  /** --identity for the age secret store. */
  identityFile?: string;
  /** Seconds a push waits for another's deploy lock. */
  lockWaitSec: number;
}

/**
 * Loads and checks deploy.toml for one environment (every problem at once, or a ConfigError),
 * build.main expanded as `check` does, so a command naming a missing program fails here;
 * `opts.build` (plan, push) checks what `check` checks about the build too.
 */
export async function loadEnvironment(ctx: Ctx, env: string, opts: CheckOptions = {}): Promise<ResolvedConfig> {
  return requireEnvironment(ctx.configFile, await loadWithPackages(ctx.configFile, env, opts));
}

/**
 * Connects to every host of the environment (one connection each), runs f, closes them.
 * `opts.user` logs in as that user instead of the hosts' own (setup --bootstrap).
 */
export async function withRemotes<T>(cfg: ResolvedConfig, ctx: Ctx, f: (remotes: Remote[]) => Promise<T>, opts: Pick<ConnectOptions, "user"> = {}): Promise<T> {
  const started = performance.now();
  const remotes = await openRemotes(cfg.hosts, cfg.ssh, { root: cfg.root, env: cfg.env, log: (l) => ctx.out.debug(l), ...opts });
  ctx.out.debug(`connected to ${remotes.length} host(s) in ${((performance.now() - started) / 1000).toFixed(2)}s`);
  try {
    return await f(remotes);
  } finally {
    await Promise.all(remotes.map((r) => r.close().catch(() => {})));
  }
}

/** Who is deploying, for release records and the audit log. */
export function whoAmI(): string {
  const user = process.env.QDEPLOY_USER || os.userInfo().username;
  return `${user}@${os.hostname()}`;
}

/** The folder of deploy.toml. */
export function projectDir(ctx: Ctx): string {
  return path.dirname(path.resolve(ctx.configFile));
}

/** The operations layer's context for one environment: SSH, events printed through ctx.out, secrets hidden from it. */
export function opContext(ctx: Ctx, cfg: ResolvedConfig): OpContext {
  return {
    cfg,
    connect: sshConnect(cfg, (l) => ctx.out.debug(l)),
    events: printEvents(ctx.out),
    redactor: ctx.redactor,
    who: whoAmI(),
    lockWaitSec: ctx.lockWaitSec,
    ...(ctx.identityFile !== undefined && { identityFile: ctx.identityFile }),
  };
}
