/**
 * `qdeploy secrets set/unset/list/edit ENV ...` and `qdeploy secrets recipients add/remove/list`.
 * Names are printed, values never: not in output, not in errors.
 */
import { existsSync, rmSync } from "node:fs";
import { mkdtemp, open, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { ConfigError, OperationError, UsageError } from "../errors.ts";
import {
  ageFiles,
  appendRecipient,
  readRecipientEntries,
  readRecipients,
  removeRecipientLines,
  readSecretsFile,
  recipientProblem,
  writeSecretsFile,
  type AgeFiles,
} from "./age-store.ts";
import { dotenvValueProblem, emptyValues, formatDotenv, parseDotenv, secretNameProblem, type DotenvProblem } from "./dotenv.ts";
import { childEnviron, resolveIdentity, type AgeIdentity } from "./identity.ts";
import { loadSecrets } from "./store.ts";

/** The command's terminal: standard input, output lines, message lines, and the environment. */
export interface SecretsIO {
  /** All of standard input (read for `set ENV KEY` with a bare KEY when stdin is not a terminal, and `import ENV -`). */
  stdin: () => Promise<string>;
  /**
   * Set when standard input is a terminal: shows the prompt and reads one line without echo.
   * `set ENV KEY` then asks for the value instead of reading stdin to its end.
   */
  promptHidden?: (prompt: string) => Promise<string>;
  /** Results: `list`'s names, confirmations (not called with --json). */
  out: (line: string) => void;
  /** With --json: the command's one result as a value (names, never values), printed as JSON. */
  data?: (value: unknown) => void;
  /** Notes and warnings (an identity created, a recipients file created, ...). */
  err: (line: string) => void;
  /** VISUAL/EDITOR, QDEPLOY_AGE_KEY, XDG_CONFIG_HOME, HOME, and what env/command stores read. */
  environ: Record<string, string | undefined>;
}

/**
 * How the commands get deploy.toml: `load(env)` resolves one environment (the CLI passes
 * `(env) => loadConfigOrThrow(file, env)`), `environments` lists every environment it defines
 * (`recipients add` re-encrypts each one's file). A plain ResolvedConfig serves one environment.
 */
export type SecretsConfigSource =
  | ResolvedConfig
  | { load: (env: string) => Promise<ResolvedConfig>; environments: string[] };

/** The usage lines of `qdeploy secrets`, for errors and help. */
export const SECRETS_USAGE = [
  "usage: qdeploy secrets set ENV KEY | KEY=VALUE...   (a bare KEY asks for its value twice, hidden, or reads standard input)",
  "       qdeploy secrets unset ENV KEY...",
  "       qdeploy secrets list ENV [--json]",
  "       qdeploy secrets edit ENV",
  "       qdeploy secrets import ENV FILE|-   (a dotenv file; - reads standard input)",
  "       qdeploy secrets recipients list [--json]",
  "       qdeploy secrets recipients add AGE1...",
  "       qdeploy secrets recipients remove AGE1...   (re-encrypts; rotate what the removed key could read)",
].join("\n");

/**
 * Runs `qdeploy secrets ARGS...` (args after "secrets"); returns the exit code, throws QdeployErrors.
 * `json`: each subcommand reports one value through io.data instead of lines through io.out.
 */
export async function runSecretsCommand(
  args: string[],
  cfg: SecretsConfigSource,
  io: SecretsIO,
  opts: { identityFile?: string; json?: boolean } = {},
): Promise<number> {
  const [sub, ...rest] = args;
  const source = "load" in cfg ? cfg : { load: async (env: string) => single(cfg, env), environments: [cfg.env] };
  const json = Boolean(opts.json);
  const ctx: Ctx = { io, identityFile: opts.identityFile, load: source.load, json, messages: [] };
  switch (sub) {
    case "set":
      return cmdSet(ctx, rest);
    case "unset":
      return cmdUnset(ctx, rest);
    case "list":
      return cmdList(ctx, rest);
    case "edit":
      return cmdEdit(ctx, rest);
    case "import":
      return cmdImport(ctx, rest);
    case "recipients": {
      const code = await cmdRecipients(ctx, rest, source.environments);
      if (json && rest[0] !== "list") ctx.io.data?.({ ok: code === 0, messages: ctx.messages });
      return code;
    }
    case undefined:
      throw new UsageError(`qdeploy secrets: missing a subcommand\n${SECRETS_USAGE}`);
    default:
      throw new UsageError(`qdeploy secrets: unknown subcommand "${sub}"\n${SECRETS_USAGE}`);
  }
}

interface Ctx {
  io: SecretsIO;
  identityFile?: string;
  load: (env: string) => Promise<ResolvedConfig>;
  json: boolean;
  /** With --json, what `say` would have printed (recipients add/remove report these). */
  messages: string[];
}

/** A result line, or with --json nothing (the command reports `data` through `report`). */
function say(ctx: Ctx, line: string): void {
  if (ctx.json) ctx.messages.push(line);
  else ctx.io.out(line);
}

/** The command's result: a line, or with --json one value. */
function report(ctx: Ctx, line: string, data: unknown): void {
  if (ctx.json) ctx.io.data?.(data);
  else ctx.io.out(line);
}

function single(cfg: ResolvedConfig, env: string): ResolvedConfig {
  if (env !== cfg.env) throw new UsageError(`this configuration is for environment "${cfg.env}", not "${env}"`);
  return cfg;
}

// ---- set / unset / list / edit ----

async function cmdSet(ctx: Ctx, args: string[]): Promise<number> {
  const [env, ...pairs] = args;
  if (!env || pairs.length === 0) throw new UsageError(`qdeploy secrets set: needs ENV and at least one KEY=VALUE\n${SECRETS_USAGE}`);
  const parsed = pairs.map((arg, i) => {
    const eq = arg.indexOf("=");
    const name = eq < 0 ? arg : arg.slice(0, eq);
    checkArgName(name, i, "set");
    return { name, value: eq < 0 ? undefined : arg.slice(eq + 1) };
  });
  checkDuplicates(parsed.map((p) => p.name));
  const bare = parsed.filter((p) => p.value === undefined);
  if (bare.length > 1) {
    throw new UsageError(
      `qdeploy secrets set: only one bare KEY can take its value from standard input (got ${bare.map((p) => p.name).join(", ")})`,
    );
  }
  const files = await ageOnly(ctx, env);
  const inline = parsed.filter((p) => p.value);
  if (inline.length) {
    // The command line is kept in the shell's history and shown to every user by ps.
    const names = inline.map((p) => p.name).join(", ");
    ctx.io.err(
      `warning: ${names}: a value on the command line stays in your shell history and is visible in the ` +
        `process list; prefer \`qdeploy secrets set ${env} ${inline[0]!.name}\`, which asks for it without echo ` +
        `on a terminal, or reads it from standard input (\`... ${inline[0]!.name} < file\`)`,
    );
  }
  if (bare.length === 1) {
    const name = bare[0]!.name;
    let value: string;
    if (ctx.io.promptHidden) {
      value = await ctx.io.promptHidden(`${name} for ${env} (typing is hidden; a multi-line value: pipe it in): `);
      if (value !== "") {
        const again = await ctx.io.promptHidden(`${name} again: `);
        if (again !== value) throw new OperationError(`the two values typed for ${name} differ: nothing was changed in ${env}`);
      }
    } else {
      value = await ctx.io.stdin();
      value = value.endsWith("\r\n") ? value.slice(0, -2) : value.endsWith("\n") ? value.slice(0, -1) : value;
    }
    if (value === "") {
      throw new UsageError(
        `qdeploy secrets set: ${ctx.io.promptHidden ? `no value typed for ${name}` : `no value for ${name} on standard input`}: ` +
          `pipe it in (e.g. \`qdeploy secrets set ${env} ${name} < file\`), or write ${name}= for an empty value`,
      );
    }
    bare[0]!.value = value;
  }
  for (const p of parsed) {
    const problem = dotenvValueProblem(p.value!);
    if (problem) throw new UsageError(`qdeploy secrets set: ${p.name}: ${problem}`);
  }
  const identity = await identityFor(ctx);
  const current = (await readSecretsFile(files.file, async () => identity, files.show(files.file))) ?? emptyValues();
  for (const p of parsed) current[p.name] = p.value!;
  await save(ctx, env, files, identity, current);
  const names = parsed.map((p) => p.name);
  report(ctx, `set ${names.join(", ")} in ${env} (${files.show(files.file)})`, { env, set: names, file: files.show(files.file) });
  return 0;
}

async function cmdUnset(ctx: Ctx, args: string[]): Promise<number> {
  const [env, ...names] = args;
  if (!env || names.length === 0) throw new UsageError(`qdeploy secrets unset: needs ENV and at least one KEY\n${SECRETS_USAGE}`);
  names.forEach((n, i) => checkArgName(n, i, "unset"));
  const files = await ageOnly(ctx, env);
  const identity = await identityFor(ctx);
  const current = await readSecretsFile(files.file, async () => identity, files.show(files.file));
  const present = names.filter((n) => current && n in current);
  const absent = names.filter((n) => !present.includes(n));
  if (absent.length) ctx.io.err(`not set in ${env}, nothing to remove: ${absent.join(", ")}`);
  const result = { env, unset: present, absent, file: files.show(files.file) };
  if (!current || present.length === 0) {
    if (ctx.json) ctx.io.data?.({ ...result, unset: [] });
    return 0;
  }
  for (const n of present) delete current[n];
  await save(ctx, env, files, identity, current);
  report(ctx, `unset ${present.join(", ")} in ${env} (${files.show(files.file)})`, result);
  return 0;
}

async function cmdList(ctx: Ctx, args: string[]): Promise<number> {
  const [env, ...extra] = args;
  if (!env || extra.length) throw new UsageError(`qdeploy secrets list: needs exactly ENV\n${SECRETS_USAGE}`);
  const cfg = await ctx.load(env);
  let values: Record<string, string>;
  if (cfg.secrets.store === "age") {
    const files = ageFiles(cfg.root, env, cfg.secrets);
    const identity = await identityFor(ctx);
    const found = await readSecretsFile(files.file, async () => identity, files.show(files.file));
    if (!found) {
      ctx.io.err(`${env} has no secrets yet (${files.show(files.file)} does not exist); add one with \`qdeploy secrets set ${env} KEY\``);
    }
    values = found ?? {};
  } else {
    values = await loadSecrets(cfg, { identityFile: ctx.identityFile, environ: ctx.io.environ });
  }
  const names = Object.keys(values).sort();
  if (ctx.json) ctx.io.data?.({ env, store: cfg.secrets.store, names });
  else for (const name of names) ctx.io.out(name);
  return 0;
}

const EDIT_HEADER = (env: string, shown: string) =>
  [
    `# qdeploy secrets for ${env}: saved, encrypted, to ${shown} when you quit the editor.`,
    "# dotenv format: KEY=value (spaces around it are trimmed; ' # ' starts a comment), KEY='literal text',",
    '# KEY="with \\n for a newline", or a quoted value over several lines. Lines starting with # are not saved.',
    "",
  ].join("\n");

/** The first and last lines of the problems `edit` puts at the top of a reopened file; removed before parsing. */
const PROBLEMS_FIRST = "# qdeploy: NOTHING IS SAVED YET. Fix these problems, then save and quit (quit without saving to give up):";
const PROBLEMS_LAST = "# (end of problems)";
/** A scripted editor that never fixes its text must not keep qdeploy reopening it. */
const MAX_EDIT_ROUNDS = 20;

/** `text` without the problems block a reopened editor was given. */
function withoutProblems(text: string): string {
  if (!text.startsWith(`${PROBLEMS_FIRST}\n`)) return text;
  const lines = text.split("\n");
  const last = lines.indexOf(PROBLEMS_LAST);
  if (last >= 0) return lines.slice(last + 1).join("\n");
  let i = 1;
  while (i < lines.length && lines[i]!.startsWith("#   line ")) i++;
  return lines.slice(i).join("\n");
}

/**
 * Problems of the edited text, numbered as the lines of the file that shows them at its
 * top: the block's length is known from the first count, so the text is parsed again
 * below that many placeholder lines.
 */
function numberedProblems(body: string): DotenvProblem[] {
  const first = parseDotenv(body, { writable: true }).problems;
  if (!first.length) return first;
  return parseDotenv("#\n".repeat(first.length + 2) + body, { writable: true }).problems;
}

function problemsBlock(problems: DotenvProblem[]): string {
  return [PROBLEMS_FIRST, ...problems.map((p) => `#   ${p.message}`), PROBLEMS_LAST, ""].join("\n");
}

async function cmdEdit(ctx: Ctx, args: string[]): Promise<number> {
  const [env, ...extra] = args;
  if (!env || extra.length) throw new UsageError(`qdeploy secrets edit: needs exactly ENV\n${SECRETS_USAGE}`);
  const files = await ageOnly(ctx, env);
  const identity = await identityFor(ctx);
  const before = (await readSecretsFile(files.file, async () => identity, files.show(files.file))) ?? emptyValues();
  const editor = (ctx.io.environ.VISUAL || ctx.io.environ.EDITOR || "vi").trim().split(/\s+/);

  // tmpfs when there is one: the plaintext then never reaches a disk.
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const dir = await mkdtemp(join(base, "qdeploy-secrets-")); // mkdtemp: mode 0700
  const path = join(dir, `${env}.env`);
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  let child: ReturnType<typeof Bun.spawn> | undefined;
  const onFatal = (signal: NodeJS.Signals, code: number) => () => {
    child?.kill(signal);
    cleanup();
    process.exit(128 + code);
  };
  const handlers: [NodeJS.Signals, () => void][] = [
    ["SIGTERM", onFatal("SIGTERM", 15)],
    ["SIGHUP", onFatal("SIGHUP", 1)],
    // Ctrl-C belongs to the editor while it runs (git does the same).
    ["SIGINT", () => {}],
  ];
  for (const [s, h] of handlers) process.on(s, h);
  let after: Record<string, string>;
  try {
    const handle = await open(path, "wx", 0o600);
    try {
      await handle.writeFile(EDIT_HEADER(env, files.show(files.file)) + formatDotenv(before));
    } finally {
      await handle.close();
    }
    // On a mistake the editor opens again on the same text, the problems (line numbers,
    // never values) at its top, until the text is good or is saved unchanged.
    let reopened: { body: string; problems: DotenvProblem[] } | null = null;
    for (let round = 1; ; round++) {
      try {
        child = Bun.spawn([...editor, path], {
          stdio: ["inherit", "inherit", "inherit"],
          env: childEnviron(ctx.io.environ),
        });
      } catch (e) {
        throw new OperationError(
          `cannot start the editor "${editor[0]}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ` +
            `set VISUAL or EDITOR to an installed editor`,
        );
      }
      const code = await child.exited;
      if (code !== 0) throw new OperationError(`the editor (${editor[0]}) exited with ${code}: nothing was changed in ${env}`);
      const body = withoutProblems(await readFile(path, "utf8"));
      if (reopened && body === reopened.body) {
        throw new OperationError(
          `nothing was saved to ${env}'s secrets: the editor was left without changes, with ` +
            `${reopened.problems.length} problem${reopened.problems.length === 1 ? "" : "s"} still in it ` +
            `(${reopened.problems.map((p) => p.message).join("; ")})`,
        );
      }
      const problems = numberedProblems(body);
      if (!problems.length) {
        after = parseDotenv(body).values;
        break;
      }
      if (round >= MAX_EDIT_ROUNDS) {
        throw new OperationError(`nothing was saved to ${env}'s secrets: the text still had problems after ${round} edits (${problems.map((p) => p.message).join("; ")})`);
      }
      ctx.io.err(
        `${problems.length} problem${problems.length === 1 ? "" : "s"} in the edit (${problems.map((p) => p.message).join("; ")}): ` +
          `opening the editor again; quit it without saving to give up`,
      );
      await writeFile(path, problemsBlock(problems) + body);
      reopened = { body, problems };
    }
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
    await rm(dir, { recursive: true, force: true });
  }

  const added = Object.keys(after).filter((k) => !(k in before));
  const changed = Object.keys(after).filter((k) => k in before && before[k] !== after[k]);
  const removed = Object.keys(before).filter((k) => !(k in after));
  const result = { env, added, changed, removed, file: files.show(files.file) };
  if (!added.length && !changed.length && !removed.length) {
    report(ctx, `no changes to ${env}'s secrets`, result);
    return 0;
  }
  await save(ctx, env, files, identity, after);
  const parts = [
    added.length ? `added ${added.join(", ")}` : "",
    changed.length ? `changed ${changed.join(", ")}` : "",
    removed.length ? `removed ${removed.join(", ")}` : "",
  ].filter(Boolean);
  report(ctx, `${parts.join("; ")} in ${env} (${files.show(files.file)})`, result);
  return 0;
}

/** `import ENV FILE|-`: every KEY=VALUE of a dotenv file, set over what is there; all or nothing. */
async function cmdImport(ctx: Ctx, args: string[]): Promise<number> {
  const [env, file, ...extra] = args;
  if (!env || !file || extra.length) throw new UsageError(`qdeploy secrets import: needs ENV and FILE (or - for standard input)\n${SECRETS_USAGE}`);
  const files = await ageOnly(ctx, env);
  const shown = file === "-" ? "standard input" : file;
  let text: string;
  try {
    text = file === "-" ? await ctx.io.stdin() : await readFile(file, "utf8");
  } catch (e) {
    throw new UsageError(`qdeploy secrets import: cannot read ${shown} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const { values, problems } = parseDotenv(text, { writable: true });
  if (problems.length) {
    const e = new ConfigError(problems.map((p) => ({ file: shown, line: p.line, path: "", message: p.message.replace(/^line \d+: /, "") })));
    e.hint = `nothing was set in ${env}: fix ${shown} and import it again`;
    throw e;
  }
  const names = Object.keys(values);
  if (!names.length) throw new UsageError(`qdeploy secrets import: ${shown} has no KEY=VALUE lines: nothing was set in ${env}`);
  const identity = await identityFor(ctx);
  const current = (await readSecretsFile(files.file, async () => identity, files.show(files.file))) ?? emptyValues();
  const changed = names.filter((n) => n in current && current[n] !== values[n]);
  const added = names.filter((n) => !(n in current));
  Object.assign(current, values);
  await save(ctx, env, files, identity, current);
  report(ctx, `set ${names.join(", ")} in ${env} (${files.show(files.file)})`, { env, set: names, added, changed, file: files.show(files.file) });
  return 0;
}

// ---- recipients ----

async function cmdRecipients(ctx: Ctx, args: string[], environments: string[]): Promise<number> {
  const [what, ...keys] = args;
  if (what !== "add" && what !== "list" && what !== "remove") throw new UsageError(`qdeploy secrets recipients: add, remove or list\n${SECRETS_USAGE}`);
  if (what === "list" && keys.length) throw new UsageError(`qdeploy secrets recipients list: takes no arguments\n${SECRETS_USAGE}`);
  if (what !== "list" && keys.length === 0) throw new UsageError(`qdeploy secrets recipients ${what}: needs a public key (age1...)\n${SECRETS_USAGE}`);
  for (const k of keys) {
    const p = recipientProblem(k);
    // A secret key pasted here must not be echoed back.
    if (p) throw new UsageError(`qdeploy secrets recipients ${what}: ${k.startsWith("AGE-SECRET-KEY-") ? "that" : `"${k}"`}: ${p}`);
  }

  // Every environment stored with age; they usually share one recipients file.
  const envs: { env: string; files: AgeFiles }[] = [];
  for (const env of environments) {
    const cfg = await ctx.load(env);
    if (cfg.secrets.store === "age") envs.push({ env, files: ageFiles(cfg.root, env, cfg.secrets) });
  }
  if (envs.length === 0) {
    throw new UsageError('no environment in deploy.toml uses store = "age": recipients are only for the age store');
  }
  const recipientFiles = [...new Map(envs.map((e) => [e.files.recipients, e.files])).values()];

  if (what === "list") {
    const me = await resolveIdentity({ identityFile: ctx.identityFile, environ: ctx.io.environ, create: false }).catch(() => null);
    const listed: { file: string; exists: boolean; recipients: { key: string; comment: string | null; you: boolean }[] }[] = [];
    for (const files of recipientFiles) {
      const shown = files.show(files.recipients);
      const entries = await readRecipientEntries(files.recipients, shown);
      if (!entries) ctx.io.err(`${shown} does not exist yet; the first \`qdeploy secrets set\` creates it`);
      listed.push({ file: shown, exists: entries !== null, recipients: (entries ?? []).map((e) => ({ ...e, you: me?.publicKey === e.key })) });
    }
    if (ctx.json) {
      ctx.io.data?.({ files: listed });
      return 0;
    }
    for (const f of listed) {
      if (listed.length > 1) ctx.io.out(`${f.file}:`);
      for (const r of f.recipients) ctx.io.out(r.you ? `${r.key} (you)` : r.key);
    }
    return 0;
  }

  const identity = await identityFor(ctx);
  if (what === "remove") return removeRecipients(ctx, keys, recipientFiles, await reencryptTargets(envs, recipientFiles), identity);
  for (const files of recipientFiles) {
    const shown = files.show(files.recipients);
    const existing = await readRecipients(files.recipients, shown);
    if (!existing && !keys.includes(identity.publicKey)) {
      await appendRecipient(files.recipients, identity.publicKey, ownerNote());
      ctx.io.err(`created ${shown} with your public key ${identity.publicKey}; commit it`);
    }
    for (const k of keys) {
      if (existing?.includes(k)) ctx.io.err(`${k} is already in ${shown}`);
      else {
        await appendRecipient(files.recipients, k);
        say(ctx, `added ${k} to ${shown}`);
      }
    }
  }

  const failed: string[] = [];
  for (const [file, files] of await reencryptTargets(envs, recipientFiles)) {
    const shown = files.show(file);
    try {
      const values = await readSecretsFile(file, async () => identity, shown);
      if (!values) continue;
      await reencrypt(ctx, file, files, values);
    } catch (e) {
      failed.push(`${shown}: ${(e as Error).message}`);
    }
  }
  if (failed.length) {
    ctx.io.err(
      `could not re-encrypt ${failed.length} file${failed.length === 1 ? "" : "s"}; someone who can read ` +
        `${failed.length === 1 ? "it" : "them"} must run \`qdeploy secrets recipients add\` again:`,
    );
    for (const f of failed) ctx.io.err(`  ${f}`);
    return 1;
  }
  return 0;
}

/**
 * `recipients remove`: all or nothing. Every file is decrypted first (one that cannot be
 * would stay readable by the removed key), then the keys leave the recipients files and
 * every file is encrypted again to the keys that remain. A file keeps at least one recipient.
 */
async function removeRecipients(
  ctx: Ctx,
  keys: string[],
  recipientFiles: AgeFiles[],
  targets: Map<string, AgeFiles>,
  identity: AgeIdentity,
): Promise<number> {
  const listed = new Set<string>();
  for (const files of recipientFiles) {
    const shown = files.show(files.recipients);
    const existing = (await readRecipients(files.recipients, shown)) ?? [];
    for (const k of existing) listed.add(k);
    if (existing.length && existing.every((k) => keys.includes(k))) {
      throw new OperationError(
        `refusing to remove the last recipient of ${shown}: nobody could read the secrets afterwards; ` +
          `add the key that replaces it first (\`qdeploy secrets recipients add age1...\`), then remove this one`,
      );
    }
  }
  const unknown = keys.filter((k) => !listed.has(k));
  if (unknown.length) {
    const where = recipientFiles.map((f) => f.show(f.recipients)).join(", ");
    throw new UsageError(`qdeploy secrets recipients remove: ${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} not in ${where}`);
  }

  const plain = new Map<string, { files: AgeFiles; values: Record<string, string> }>();
  const unreadable: string[] = [];
  for (const [file, files] of targets) {
    try {
      const values = await readSecretsFile(file, async () => identity, files.show(file));
      if (values) plain.set(file, { files, values });
    } catch (e) {
      unreadable.push(`  ${files.show(file)}: ${(e as Error).message}`);
    }
  }
  if (unreadable.length) {
    throw new OperationError(
      `nothing was changed: the removed key could still read ${unreadable.length === 1 ? "this file" : "these files"}, ` +
        `which you cannot decrypt to encrypt again; someone who can read ${unreadable.length === 1 ? "it" : "them"} ` +
        `must run \`qdeploy secrets recipients remove\`:\n${unreadable.join("\n")}`,
    );
  }

  for (const files of recipientFiles) {
    const removed = await removeRecipientLines(files.recipients, keys);
    for (const k of removed) say(ctx, `removed ${k} from ${files.show(files.recipients)}`);
  }
  for (const [file, { files, values }] of plain) await reencrypt(ctx, file, files, values);
  if (keys.includes(identity.publicKey)) {
    ctx.io.err(`note: you removed your own key ${identity.publicKey}: you can no longer read these secrets`);
  }
  ctx.io.err(
    "the removed key cannot read the new files, but whoever holds it keeps every value it could read " +
      "(and the old files, in git history and clones): rotate those secrets, i.e. change each at its source " +
      "and run `qdeploy secrets set`, then push",
  );
  return 0;
}

/** Every environment's file, and any other *.env.age beside a recipients file: what a change of recipients re-encrypts. */
async function reencryptTargets(envs: { files: AgeFiles }[], recipientFiles: AgeFiles[]): Promise<Map<string, AgeFiles>> {
  const targets = new Map<string, AgeFiles>();
  for (const e of envs) targets.set(e.files.file, e.files);
  for (const files of recipientFiles) {
    const dir = dirname(files.recipients);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names.filter((n) => n.endsWith(".env.age"))) {
      const file = join(dir, n);
      if (!targets.has(file)) targets.set(file, { ...files, file });
    }
  }
  return targets;
}

/** Encrypts `values` again to the keys now in the file's recipients file, and says so. */
async function reencrypt(ctx: Ctx, file: string, files: AgeFiles, values: Record<string, string>): Promise<void> {
  const recipients = (await readRecipients(files.recipients, files.show(files.recipients))) ?? [];
  await writeSecretsFile(file, values, recipients);
  say(ctx, `re-encrypted ${files.show(file)} to ${recipients.length} recipient${recipients.length === 1 ? "" : "s"}`);
}

// ---- shared ----

/** The environment's age files; any other store is an error for set/unset/edit. */
async function ageOnly(ctx: Ctx, env: string): Promise<AgeFiles> {
  const cfg = await ctx.load(env);
  const store = cfg.secrets.store;
  if (store === "env") {
    throw new UsageError(
      `secrets for store "env" live in your environment, not in qdeploy: set them in your shell or your CI's secret variables (${env} reads secrets.names from there)`,
    );
  }
  if (store === "command") {
    throw new UsageError(
      `secrets for store "command" live wherever secrets.command reads them from, not in qdeploy: change them with that tool`,
    );
  }
  return ageFiles(cfg.root, env, cfg.secrets);
}

/** The user's identity, created on first use; says where and what the public key is. */
async function identityFor(ctx: Ctx): Promise<AgeIdentity> {
  const identity = await resolveIdentity({ identityFile: ctx.identityFile, environ: ctx.io.environ, create: true });
  if (identity.created) {
    ctx.io.err(`created your age identity at ${identity.source} (private: keep it, back it up, never commit it)`);
    ctx.io.err(`your public key is ${identity.publicKey}`);
    ctx.io.err(`to read existing secrets, a teammate adds it with \`qdeploy secrets recipients add ${identity.publicKey}\``);
  }
  return identity;
}

/** Encrypts `values` to the recipients file's keys, creating that file with the user's key first. */
async function save(ctx: Ctx, env: string, files: AgeFiles, identity: AgeIdentity, values: Record<string, string>) {
  const shown = files.show(files.recipients);
  let recipients = await readRecipients(files.recipients, shown);
  if (!recipients) {
    await appendRecipient(files.recipients, identity.publicKey, ownerNote());
    ctx.io.err(`created ${shown} with your public key ${identity.publicKey}; commit it with the secrets`);
    recipients = [identity.publicKey];
  }
  if (recipients.length === 0) {
    throw new OperationError(`${shown} lists no public keys: add yours (${identity.publicKey}) with \`qdeploy secrets recipients add\``);
  }
  if (!recipients.includes(identity.publicKey)) {
    ctx.io.err(
      `warning: your key ${identity.publicKey} is not in ${shown}, so you will not be able to read ${env}'s ` +
        `secrets after this; a teammate can add it with \`qdeploy secrets recipients add\``,
    );
  }
  await writeSecretsFile(files.file, values, recipients);
}

function checkArgName(name: string, index: number, cmd: string): void {
  const p = secretNameProblem(name);
  if (p) throw new UsageError(`qdeploy secrets ${cmd}: KEY argument ${index + 1}: ${p}`);
}

function checkDuplicates(names: string[]): void {
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`qdeploy secrets set: ${dup} is given twice`);
}

function ownerNote(): string {
  let who = "";
  try {
    who = userInfo().username;
  } catch {
    // no passwd entry (containers): the note is only a courtesy
  }
  return `${who ? `${who}, ` : ""}added ${new Date().toISOString().slice(0, 10)}`;
}
