/** What every command gets: flags, output, deploy.toml, and the operations' context (src/ops/context.ts). */
import os from "node:os";
import path from "node:path";
import { requireEnvironment } from "../config/load.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { type Output, printEvents } from "../output.ts";
import { type CheckOptions, loadWithPackages } from "../config/check-packages.ts";
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
  const log = (l: string) => ctx.out.debug(l);
  return {
    cfg,
    connect: sshConnect(cfg, log),
    connectAs: (user) => sshConnect(cfg, log, { user }),
    events: printEvents(ctx.out),
    redactor: ctx.redactor,
    who: whoAmI(),
    lockWaitSec: ctx.lockWaitSec,
    ...(ctx.identityFile !== undefined && { identityFile: ctx.identityFile }),
  };
}
