/**
 * Secret values out of what a command prints: a journal tail, a remote error or go's
 * output could echo one, so a command's output and its errors go through redact().
 */
import { redactingOutput } from "../output.ts";
import { redact } from "../secrets/redact.ts";
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

/** Runs f; an error it throws leaves with its message redacted (Bun formats the stack, which --verbose prints, when first read). */
export async function redactErrors<T>(hide: (s: string) => string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof Error) e.message = hide(e.message);
    throw e;
  }
}
