/**
 * `qdeploy secrets ...` at the terminal: each command gives its operation (src/secrets/values.ts,
 * edit.ts, recipients.ts) deploy.toml and the terminal, and prints what it returns: lines, or
 * under --json one value. Names only, never values.
 */
import { loadConfig, loadConfigOrThrow } from "../config/load.ts";
import { editSecrets, type EditResult } from "../secrets/edit.ts";
import type { SecretsConfigSource, SecretsIO, SecretsOptions } from "../secrets/operation.ts";
import { readHiddenLine } from "../secrets/prompt.ts";
import { addRecipients, listRecipients, removeRecipients, type RecipientsList } from "../secrets/recipients.ts";
import { importSecrets, listSecrets, parseAssignment, setSecrets, unsetSecrets, type ListResult, type SetResult, type UnsetResult } from "../secrets/values.ts";
import type { Ctx } from "./context.ts";

/** `secrets set ENV KEY[=VALUE]...` */
export async function secretsSet(ctx: Ctx, env: string, assignments: string[]): Promise<number> {
  return show(ctx, await setSecrets(terminal(ctx), await configSource(ctx), env, assignments.map(parseAssignment), options(ctx)), setLines);
}

/** `secrets unset ENV KEY...` */
export async function secretsUnset(ctx: Ctx, env: string, names: string[]): Promise<number> {
  return show(ctx, await unsetSecrets(terminal(ctx), await configSource(ctx), env, names, options(ctx)), unsetLines);
}

/** `secrets list ENV` */
export async function secretsList(ctx: Ctx, env: string): Promise<number> {
  return show(ctx, await listSecrets(terminal(ctx), await configSource(ctx), env, options(ctx)), listLines);
}

/** `secrets edit ENV` */
export async function secretsEdit(ctx: Ctx, env: string): Promise<number> {
  return show(ctx, await editSecrets(terminal(ctx), await configSource(ctx), env, options(ctx)), editLines);
}

/** `secrets import ENV FILE` (- reads stdin) */
export async function secretsImport(ctx: Ctx, env: string, file: string): Promise<number> {
  return show(ctx, await importSecrets(terminal(ctx), await configSource(ctx), env, file, options(ctx)), setLines);
}

/** `secrets recipients list` */
export async function recipientsList(ctx: Ctx): Promise<number> {
  return show(ctx, await listRecipients(terminal(ctx), await configSource(ctx), options(ctx)), recipientsLines);
}

/** `secrets recipients add RECIPIENT...`: exit 1 when a file could not be re-encrypted (it said which). */
export async function recipientsAdd(ctx: Ctx, keys: string[]): Promise<number> {
  const messages: string[] = [];
  const { failed } = await addRecipients(terminal(ctx, messages), await configSource(ctx), keys, options(ctx));
  ctx.out.data({ ok: failed.length === 0, messages });
  return failed.length ? 1 : 0;
}

/** `secrets recipients remove RECIPIENT...` */
export async function recipientsRemove(ctx: Ctx, keys: string[]): Promise<number> {
  const messages: string[] = [];
  await removeRecipients(terminal(ctx, messages), await configSource(ctx), keys, options(ctx));
  ctx.out.data({ ok: true, messages });
  return 0;
}

/** Prints an operation's result: one JSON value under --json, else its lines (ctx.out prints only the one asked for). */
function show<T>(ctx: Ctx, result: T, lines: (r: T) => string[]): number {
  ctx.out.data(result);
  for (const line of lines(result)) ctx.out.result(line);
  return 0;
}

/** The lines `set` and `import` print. */
export const setLines = (r: SetResult) => [`set ${r.set.join(", ")} in ${r.env} (${r.file})`];

/** `unset` prints nothing when nothing was removed (the names not set went to stderr). */
export const unsetLines = (r: UnsetResult) => (r.unset.length ? [`unset ${r.unset.join(", ")} in ${r.env} (${r.file})`] : []);

/** `list` prints one name a line. */
export const listLines = (r: ListResult) => r.names;

/** What `edit` added, changed and removed, or that it changed nothing. */
export function editLines(r: EditResult): string[] {
  const parts = [
    r.added.length ? `added ${r.added.join(", ")}` : "",
    r.changed.length ? `changed ${r.changed.join(", ")}` : "",
    r.removed.length ? `removed ${r.removed.join(", ")}` : "",
  ].filter(Boolean);
  return [parts.length ? `${parts.join("; ")} in ${r.env} (${r.file})` : `no changes to ${r.env}'s secrets`];
}

/** Each key, "(you)" beside the user's own; under a file's name when there are several files. */
export function recipientsLines(r: RecipientsList): string[] {
  return r.files.flatMap((f) => [...(r.files.length > 1 ? [`${f.file}:`] : []), ...f.recipients.map((k) => (k.you ? `${k.key} (you)` : k.key))]);
}

/** deploy.toml: one environment at a time, and the names of all of them (recipients re-encrypt each one's file). */
async function configSource(ctx: Ctx): Promise<SecretsConfigSource> {
  const { raw } = await loadConfig(ctx.configFile);
  return { load: (env) => loadConfigOrThrow(ctx.configFile, env), environments: Object.keys(raw.environments ?? {}) };
}

function options(ctx: Ctx): SecretsOptions {
  return { identityFile: ctx.identityFile };
}

/** The terminal as the operations see it; each io.out line is also kept in `messages` (--json reports them). */
function terminal(ctx: Ctx, messages: string[] = []): SecretsIO {
  return {
    stdin: () => Bun.stdin.text(),
    // On a terminal a value is typed at a prompt that does not echo it.
    promptHidden: process.stdin.isTTY ? (prompt) => readHiddenLine(prompt, { input: process.stdin, output: process.stderr }) : undefined,
    out: (line) => {
      messages.push(line);
      ctx.out.result(line);
    },
    err: (line) => process.stderr.write(`${line}\n`),
    environ: process.env,
  };
}
