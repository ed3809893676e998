/**
 * An environment's secret values: set, unset, list, import. Each operation returns what it did
 * (names, never values); notes and warnings go to io.err.
 */
import { readFile } from "node:fs/promises";
import { ConfigError, OperationError, UsageError } from "../errors.ts";
import { ageFiles, readSecretsFile } from "./age-store.ts";
import { dotenvValueProblem, emptyValues, parseDotenv, secretNameProblem } from "./dotenv.ts";
import { ageFilesFor, configLoader, identityFor, saveSecrets, type SecretsConfigSource, type SecretsIO, type SecretsOptions } from "./operation.ts";
import { loadSecrets } from "./store.ts";

/** One `KEY` or `KEY=VALUE` of `secrets set`: without a value, it is asked for or read from stdin. */
export interface Assignment {
  name: string;
  value?: string;
}

/** "KEY=VALUE" as {name, value}; a bare "KEY" as {name}. */
export function parseAssignment(arg: string): Assignment {
  const eq = arg.indexOf("=");
  return eq < 0 ? { name: arg } : { name: arg.slice(0, eq), value: arg.slice(eq + 1) };
}

/** What `set` and `import` changed. */
export interface SetResult {
  env: string;
  /** The names set, in the order given. */
  set: string[];
  /** The encrypted file, as shown to the user (relative to deploy.toml's folder). */
  file: string;
}

/**
 * Sets secrets in an age-stored environment. A bare KEY (one at most) takes its value from the
 * hidden prompt, twice, or all of stdin without its last newline; a value given inline warns,
 * as it stays in the shell's history.
 */
export async function setSecrets(io: SecretsIO, source: SecretsConfigSource, env: string, assignments: Assignment[], opts: SecretsOptions = {}): Promise<SetResult> {
  const parsed = assignments.map((a, i) => {
    checkArgName(a.name, i, "set");
    return { ...a };
  });
  const dup = parsed.map((p) => p.name).find((n, i, names) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`qdeploy secrets set: ${dup} is given twice`);
  const bare = parsed.filter((p) => p.value === undefined);
  if (bare.length > 1) {
    throw new UsageError(
      `qdeploy secrets set: only one bare KEY can take its value from standard input (got ${bare.map((p) => p.name).join(", ")})`,
    );
  }
  const files = await ageFilesFor(source, env);
  const inline = parsed.filter((p) => p.value);
  if (inline.length) {
    // The command line is kept in the shell's history and shown to every user by ps.
    const names = inline.map((p) => p.name).join(", ");
    io.err(
      `warning: ${names}: a value on the command line stays in your shell history and is visible in the ` +
        `process list; prefer \`qdeploy secrets set ${env} ${inline[0]!.name}\`, which asks for it without echo ` +
        `on a terminal, or reads it from standard input (\`... ${inline[0]!.name} < file\`)`,
    );
  }
  if (bare.length === 1) bare[0]!.value = await readValue(io, env, bare[0]!.name);
  for (const p of parsed) {
    const problem = dotenvValueProblem(p.value!);
    if (problem) throw new UsageError(`qdeploy secrets set: ${p.name}: ${problem}`);
  }
  const identity = await identityFor(io, opts);
  const current = (await readSecretsFile(files.file, async () => identity, files.show(files.file))) ?? emptyValues();
  for (const p of parsed) current[p.name] = p.value!;
  await saveSecrets(io, env, files, identity, current);
  return { env, set: parsed.map((p) => p.name), file: files.show(files.file) };
}

/** A bare KEY's value: typed twice at the hidden prompt, or all of stdin without its last newline. */
async function readValue(io: SecretsIO, env: string, name: string): Promise<string> {
  let value: string;
  if (io.promptHidden) {
    value = await io.promptHidden(`${name} for ${env} (typing is hidden; a multi-line value: pipe it in): `);
    if (value !== "") {
      const again = await io.promptHidden(`${name} again: `);
      if (again !== value) throw new OperationError(`the two values typed for ${name} differ: nothing was changed in ${env}`);
    }
  } else {
    value = await io.stdin();
    value = value.endsWith("\r\n") ? value.slice(0, -2) : value.endsWith("\n") ? value.slice(0, -1) : value;
  }
  if (value === "") {
    throw new UsageError(
      `qdeploy secrets set: ${io.promptHidden ? `no value typed for ${name}` : `no value for ${name} on standard input`}: ` +
        `pipe it in (e.g. \`qdeploy secrets set ${env} ${name} < file\`), or write ${name}= for an empty value`,
    );
  }
  return value;
}

/** What `unset` removed, and the names that were not there. */
export interface UnsetResult {
  env: string;
  unset: string[];
  absent: string[];
  file: string;
}

/** Removes secrets from an age-stored environment; a name that is not there is noted, not an error. */
export async function unsetSecrets(io: SecretsIO, source: SecretsConfigSource, env: string, names: string[], opts: SecretsOptions = {}): Promise<UnsetResult> {
  names.forEach((n, i) => checkArgName(n, i, "unset"));
  const files = await ageFilesFor(source, env);
  const identity = await identityFor(io, opts);
  const current = await readSecretsFile(files.file, async () => identity, files.show(files.file));
  const present = names.filter((n) => current && n in current);
  const absent = names.filter((n) => !present.includes(n));
  if (absent.length) io.err(`not set in ${env}, nothing to remove: ${absent.join(", ")}`);
  const result = { env, unset: present, absent, file: files.show(files.file) };
  if (!current || present.length === 0) return result;
  for (const n of present) delete current[n];
  await saveSecrets(io, env, files, identity, current);
  return result;
}

/** The names `list` found, sorted. */
export interface ListResult {
  env: string;
  store: string;
  names: string[];
}

/** The names of an environment's secrets, from whichever store it uses (an age file not there yet: none, and a note). */
export async function listSecrets(io: SecretsIO, source: SecretsConfigSource, env: string, opts: SecretsOptions = {}): Promise<ListResult> {
  const cfg = await configLoader(source).load(env);
  let values: Record<string, string>;
  if (cfg.secrets.store === "age") {
    const files = ageFiles(cfg.root, env, cfg.secrets);
    const identity = await identityFor(io, opts);
    const found = await readSecretsFile(files.file, async () => identity, files.show(files.file));
    if (!found) {
      io.err(`${env} has no secrets yet (${files.show(files.file)} does not exist); add one with \`qdeploy secrets set ${env} KEY\``);
    }
    values = found ?? {};
  } else {
    values = await loadSecrets(cfg, { identityFile: opts.identityFile, environ: io.environ });
  }
  return { env, store: cfg.secrets.store, names: Object.keys(values).sort() };
}

/** What `import` set: every name, and of them the ones new and the ones whose value changed. */
export interface ImportResult extends SetResult {
  added: string[];
  changed: string[];
}

/** `file`'s KEY=VALUE lines (a dotenv file; "-" is stdin) set over what is there; any problem: all reported, nothing written. */
export async function importSecrets(io: SecretsIO, source: SecretsConfigSource, env: string, file: string, opts: SecretsOptions = {}): Promise<ImportResult> {
  const files = await ageFilesFor(source, env);
  const shown = file === "-" ? "standard input" : file;
  let text: string;
  try {
    text = file === "-" ? await io.stdin() : await readFile(file, "utf8");
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
  const identity = await identityFor(io, opts);
  const current = (await readSecretsFile(files.file, async () => identity, files.show(files.file))) ?? emptyValues();
  const changed = names.filter((n) => n in current && current[n] !== values[n]);
  const added = names.filter((n) => !(n in current));
  Object.assign(current, values);
  await saveSecrets(io, env, files, identity, current);
  return { env, set: names, added, changed, file: files.show(files.file) };
}

function checkArgName(name: string, index: number, cmd: string): void {
  const p = secretNameProblem(name);
  if (p) throw new UsageError(`qdeploy secrets ${cmd}: KEY argument ${index + 1}: ${p}`);
}
