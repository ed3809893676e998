/**
 * `qdeploy secrets set/unset/list/edit ENV ...` and `qdeploy secrets recipients add/remove/list`.
 * Names are printed, values never: not in output, not in errors.
 */
import { existsSync, rmSync } from "node:fs";
import { mkdtemp, open, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { ConfigError, OperationError, UsageError } from "../errors.ts";
import {
  ageFiles,
  appendRecipient,
  readRecipients,
  removeRecipientLines,
  readSecretsFile,
  recipientProblem,
  writeSecretsFile,
  type AgeFiles,
} from "./age-store.ts";
import { formatDotenv, parseDotenv, secretNameProblem } from "./dotenv.ts";
import { childEnviron, resolveIdentity, type AgeIdentity } from "./identity.ts";
import { loadSecrets } from "./store.ts";

/** The command's terminal: standard input, output lines, message lines, and the environment. */
export interface SecretsIO {
  /** All of standard input (read only for `set ENV KEY` with a bare KEY, when stdin is not a terminal). */
  stdin: () => Promise<string>;
  /**
   * Set when standard input is a terminal: shows the prompt and reads one line without echo.
   * `set ENV KEY` then asks for the value instead of reading stdin to its end.
   */
  promptHidden?: (prompt: string) => Promise<string>;
  /** Results: `list`'s names, confirmations. */
  out: (line: string) => void;
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

const USAGE = [
  "usage: qdeploy secrets set ENV KEY | KEY=VALUE...   (a bare KEY asks for its value, hidden, or reads standard input)",
  "       qdeploy secrets unset ENV KEY...",
  "       qdeploy secrets list ENV",
  "       qdeploy secrets edit ENV",
  "       qdeploy secrets recipients list",
  "       qdeploy secrets recipients add AGE1...",
  "       qdeploy secrets recipients remove AGE1...   (re-encrypts; rotate what the removed key could read)",
].join("\n");

/** Runs `qdeploy secrets ARGS...` (args after "secrets"); returns the exit code, throws QdeployErrors. */
export async function runSecretsCommand(
  args: string[],
  cfg: SecretsConfigSource,
  io: SecretsIO,
  opts: { identityFile?: string } = {},
): Promise<number> {
  const [sub, ...rest] = args;
  const source = "load" in cfg ? cfg : { load: async (env: string) => single(cfg, env), environments: [cfg.env] };
  const ctx: Ctx = { io, identityFile: opts.identityFile, load: source.load };
  switch (sub) {
    case "set":
      return cmdSet(ctx, rest);
    case "unset":
      return cmdUnset(ctx, rest);
    case "list":
      return cmdList(ctx, rest);
    case "edit":
      return cmdEdit(ctx, rest);
    case "recipients":
      return cmdRecipients(ctx, rest, source.environments);
    case undefined:
      throw new UsageError(`qdeploy secrets: missing a subcommand\n${USAGE}`);
    default:
      throw new UsageError(`qdeploy secrets: unknown subcommand "${sub}"\n${USAGE}`);
  }
}

interface Ctx {
  io: SecretsIO;
  identityFile?: string;
  load: (env: string) => Promise<ResolvedConfig>;
}

function single(cfg: ResolvedConfig, env: string): ResolvedConfig {
  if (env !== cfg.env) throw new UsageError(`this configuration is for environment "${cfg.env}", not "${env}"`);
  return cfg;
}

// ---- set / unset / list / edit ----

async function cmdSet(ctx: Ctx, args: string[]): Promise<number> {
  const [env, ...pairs] = args;
  if (!env || pairs.length === 0) throw new UsageError(`qdeploy secrets set: needs ENV and at least one KEY=VALUE\n${USAGE}`);
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
  const identity = await identityFor(ctx);
  const current = (await readSecretsFile(files.file, async () => identity, files.show(files.file))) ?? {};
  for (const p of parsed) current[p.name] = p.value!;
  await save(ctx, env, files, identity, current);
  ctx.io.out(`set ${parsed.map((p) => p.name).join(", ")} in ${env} (${files.show(files.file)})`);
  return 0;
}

async function cmdUnset(ctx: Ctx, args: string[]): Promise<number> {
  const [env, ...names] = args;
  if (!env || names.length === 0) throw new UsageError(`qdeploy secrets unset: needs ENV and at least one KEY\n${USAGE}`);
  names.forEach((n, i) => checkArgName(n, i, "unset"));
  const files = await ageOnly(ctx, env);
  const identity = await identityFor(ctx);
  const current = await readSecretsFile(files.file, async () => identity, files.show(files.file));
  const present = names.filter((n) => current && n in current);
  const absent = names.filter((n) => !present.includes(n));
  if (absent.length) ctx.io.err(`not set in ${env}, nothing to remove: ${absent.join(", ")}`);
  if (!current || present.length === 0) return 0;
  for (const n of present) delete current[n];
  await save(ctx, env, files, identity, current);
  ctx.io.out(`unset ${present.join(", ")} in ${env} (${files.show(files.file)})`);
  return 0;
}

async function cmdList(ctx: Ctx, args: string[]): Promise<number> {
  const [env, ...extra] = args;
  if (!env || extra.length) throw new UsageError(`qdeploy secrets list: needs exactly ENV\n${USAGE}`);
  const cfg = await ctx.load(env);
  let values: Record<string, string>;
  if (cfg.secrets.store === "age") {
    const files = ageFiles(cfg.root, env, cfg.secrets);
    const identity = await identityFor(ctx);
    const found = await readSecretsFile(files.file, async () => identity, files.show(files.file));
    if (!found) {
      ctx.io.err(`${env} has no secrets yet (${files.show(files.file)} does not exist); add one with \`qdeploy secrets set ${env} KEY=VALUE\``);
      return 0;
    }
    values = found;
  } else {
    values = await loadSecrets(cfg, { identityFile: ctx.identityFile, environ: ctx.io.environ });
  }
  for (const name of Object.keys(values).sort()) ctx.io.out(name);
  return 0;
}

const EDIT_HEADER = (env: string, shown: string) =>
  [
    `# qdeploy secrets for ${env}: saved, encrypted, to ${shown} when you quit the editor.`,
    "# One KEY=VALUE per line; the value is taken verbatim to the end of the line.",
    '# A value with a newline: KEY="line 1\\nline 2" (escapes: \\n \\r \\\\ \\"). Lines starting with # are not saved.',
    "",
  ].join("\n");

async function cmdEdit(ctx: Ctx, args: string[]): Promise<number> {
  const [env, ...extra] = args;
  if (!env || extra.length) throw new UsageError(`qdeploy secrets edit: needs exactly ENV\n${USAGE}`);
  const files = await ageOnly(ctx, env);
  const identity = await identityFor(ctx);
  const before = (await readSecretsFile(files.file, async () => identity, files.show(files.file))) ?? {};
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
  let edited: string;
  try {
    const handle = await open(path, "wx", 0o600);
    try {
      await handle.writeFile(EDIT_HEADER(env, files.show(files.file)) + formatDotenv(before));
    } finally {
      await handle.close();
    }
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
    edited = await readFile(path, "utf8");
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
    await rm(dir, { recursive: true, force: true });
  }

  const { values: after, problems } = parseDotenv(edited);
  if (problems.length) {
    throw new ConfigError(
      problems.map((p) => ({
        file: `${env} secrets (your edit; nothing was saved)`,
        line: p.line,
        path: "",
        message: p.message.replace(/^line \d+: /, ""),
      })),
    );
  }
  const added = Object.keys(after).filter((k) => !(k in before));
  const changed = Object.keys(after).filter((k) => k in before && before[k] !== after[k]);
  const removed = Object.keys(before).filter((k) => !(k in after));
  if (!added.length && !changed.length && !removed.length) {
    ctx.io.out(`no changes to ${env}'s secrets`);
    return 0;
  }
  await save(ctx, env, files, identity, after);
  const parts = [
    added.length ? `added ${added.join(", ")}` : "",
    changed.length ? `changed ${changed.join(", ")}` : "",
    removed.length ? `removed ${removed.join(", ")}` : "",
  ].filter(Boolean);
  ctx.io.out(`${parts.join("; ")} in ${env} (${files.show(files.file)})`);
  return 0;
}

// ---- recipients ----

async function cmdRecipients(ctx: Ctx, args: string[], environments: string[]): Promise<number> {
  const [what, ...keys] = args;
  if (what !== "add" && what !== "list" && what !== "remove") throw new UsageError(`qdeploy secrets recipients: add, remove or list\n${USAGE}`);
  if (what === "list" && keys.length) throw new UsageError(`qdeploy secrets recipients list: takes no arguments\n${USAGE}`);
  if (what !== "list" && keys.length === 0) throw new UsageError(`qdeploy secrets recipients ${what}: needs a public key (age1...)\n${USAGE}`);
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
    for (const files of recipientFiles) {
      const list = await readRecipients(files.recipients, files.show(files.recipients));
      if (recipientFiles.length > 1) ctx.io.out(`${files.show(files.recipients)}:`);
      if (!list) ctx.io.err(`${files.show(files.recipients)} does not exist yet; the first \`qdeploy secrets set\` creates it`);
      for (const k of list ?? []) ctx.io.out(me?.publicKey === k ? `${k} (you)` : k);
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
        ctx.io.out(`added ${k} to ${shown}`);
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
    for (const k of removed) ctx.io.out(`removed ${k} from ${files.show(files.recipients)}`);
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
  ctx.io.out(`re-encrypted ${files.show(file)} to ${recipients.length} recipient${recipients.length === 1 ? "" : "s"}`);
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
