/**
 * Secret values out of what a command prints: a journal tail, a remote error or go's
 * output could echo one, so a command's output and its errors go through redact().
 */
import type { ResolvedConfig } from "../config/types.ts";
import { redactingOutput } from "../output.ts";
import { redact } from "../secrets/redact.ts";
import { loadSecrets } from "../secrets/store.ts";
import type { Ctx } from "./context.ts";

/** A function that replaces each of these secret values in a text (see secrets/redact.ts). */
export function hider(secrets: Record<string, string>): (text: string) => string {
  const values = Object.values(secrets);
  return (text) => redact(text, values);
}

/** ctx whose output (every level, --json data included) is redacted. */
export function hidingIn(ctx: Ctx, hide: (text: string) => string): Ctx {
  return { ...ctx, out: redactingOutput(ctx.out, hide) };
}

/**
 * The secrets to hide in a command that does not need them (rollback, restart, logs): the
 * store as it is now, or none when it cannot be read here (a CI without the key still rolls
 * back). A value rotated since the release that runs was made is not known, so not hidden.
 */
export async function secretsToHide(cfg: ResolvedConfig, ctx: Ctx): Promise<Record<string, string>> {
  try {
    return await loadSecrets(cfg, { identityFile: ctx.identityFile });
  } catch (e) {
    ctx.out.debug(`secrets not loaded, so not redacted from the output (${(e as Error).message.split("\n")[0]})`);
    return {};
  }
}

/** Runs f; an error it throws leaves with its message redacted (Bun formats the stack, which --verbose prints, when first read). */
export async function redactErrors<T>(hide: (s: string) => string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof Error) e.message = hide(e.message);
    throw e;
  }
}
