/**
 * Reading deploy.toml: parse (TOML, with line and column), validate against the JSON
 * Schema (ajv, every error), then the semantic rules, and report every problem at once
 * with its line, before anything touches the network.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import TOML from "@iarna/toml";
import type { ErrorObject } from "ajv";
import { ConfigError, UsageError, type ConfigProblem } from "../errors.ts";
import { formatPath, lineOf, locateKeys, type KeyLines, type KeyPath } from "./locate.ts";
import { parseProcfile } from "./procfile.ts";
import { environmentProblem, resolveEnvironment } from "./resolve.ts";
import { calendarExpressions, checkRules, type RuleContext } from "./rules.ts";
import validator from "./validate-deploy.generated.js";
import type { RawConfig, ResolvedConfig } from "./types.ts";

/** What loadConfig found. */
export interface LoadedConfig {
  /**
   * The file as written (empty when it could not be read or parsed), with `processes`
   * taken from ./Procfile when the file has no [processes] table.
   */
  raw: RawConfig;
  /** The environment asked for (or the only one, when none was named), when there are no problems; else null. */
  config: ResolvedConfig | null;
  /** Every problem, deploy.toml's first, by line. */
  problems: ConfigProblem[];
}

/** What loadConfig learns outside the file: the programs build.main holds (RuleContext.binaries), the app's files. */
export interface KnownPrograms {
  binaries?: string[] | null;
  /** The app's files, relative to its dir (RuleContext.appFiles); absent: not known. */
  appFiles?: ReadonlySet<string> | null;
  /**
   * Called with the parsed file (the Procfile's processes in) before the rules run: build.main
   * expanded (src/config/check-packages.ts), its problems joining the file's.
   */
  expand?: (raw: RawConfig) => Promise<{ binaries?: string[] | null; appFiles?: ReadonlySet<string> | null; problems: ConfigProblem[] }>;
}

/**
 * Reads and checks deploy.toml. `known`: what was found outside the file (the expanded
 * binaries, or how to expand them). With envName, also resolves that environment; without,
 * checks every environment (and resolves the only one, if there is exactly one).
 * `file` is used as given in problems, so pass it as the user typed it.
 */
export async function loadConfig(file: string, envName?: string, known: KnownPrograms = {}): Promise<LoadedConfig> {
  const empty = {} as RawConfig;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const message =
      (e as NodeJS.ErrnoException).code === "ENOENT"
        ? "not found; run `qdeploy init` to write one"
        : `cannot read: ${(e as Error).message}`;
    return { raw: empty, config: null, problems: [{ file, path: "", message }] };
  }

  const parsed = parseToml(text, file);
  if ("problem" in parsed) return { raw: empty, config: null, problems: [parsed.problem] };
  const raw = parsed.data as unknown as RawConfig;
  const lines = locateKeys(text);
  const problems = schemaProblems(raw, file, lines);

  const procfileProblems: ConfigProblem[] = [];
  let procfileLines: RuleContext["procfile"];
  if (raw.processes === undefined) {
    const procfile = path.join(path.dirname(file), "Procfile");
    const procText = await readFile(procfile, "utf8").catch(() => null);
    if (procText !== null) {
      const result = parseProcfile(procText, procfile);
      procfileProblems.push(...result.problems);
      raw.processes = result.processes;
      procfileLines = { file: procfile, lines: result.lines };
    }
  }

  const calendars = await checkCalendars(calendarExpressions(raw));
  const expanded = known.expand && raw.app !== undefined ? await known.expand(raw) : null;
  if (expanded) problems.push(...expanded.problems);
  const binaries = expanded ? expanded.binaries ?? null : known.binaries;
  for (const p of checkRules(raw, { file, lines, calendars, binaries, appFiles: expanded?.appFiles ?? known.appFiles ?? null, ...(procfileLines && { procfile: procfileLines }) })) {
    (p.file === file ? problems : procfileProblems).push(p);
  }
  if (envName !== undefined && isTable(raw.environments)) {
    const unknown = environmentProblem(raw, envName, file);
    if (unknown) problems.push({ ...unknown, ...lineField(lines, ["environments"]) });
  }
  const all = [...sortByLine(dedupe(problems)), ...sortByLine(dedupe(procfileProblems))];
  if (all.length > 0) return { raw, config: null, problems: all };

  const root = path.resolve(path.dirname(file));
  const names = Object.keys(raw.environments ?? {});
  try {
    // Resolving every environment proves each one resolves, not just the one asked for.
    const resolved = names.map((name) => resolveEnvironment(raw, name, root, file));
    const wanted = envName ?? (names.length === 1 ? names[0] : undefined);
    return { raw, config: resolved.find((c) => c.env === wanted) ?? null, problems: [] };
  } catch (e) {
    if (e instanceof ConfigError) return { raw, config: null, problems: e.problems };
    throw e;
  }
}

/**
 * loadConfig for commands that need one environment: throws ConfigError with every
 * problem. Without envName the file must define exactly one environment (UsageError otherwise).
 */
export async function loadConfigOrThrow(file: string, envName?: string): Promise<ResolvedConfig> {
  return requireEnvironment(file, await loadConfig(file, envName));
}

/** The one environment a load resolved, or a ConfigError with every problem (UsageError when none was named among several). */
export function requireEnvironment(file: string, { raw, config, problems }: LoadedConfig): ResolvedConfig {
  if (problems.length > 0) throw new ConfigError(problems);
  if (config) return config;
  const names = Object.keys(raw.environments ?? {});
  throw new UsageError(`${file} defines several environments (${names.join(", ")}); name one`);
}

/** Parses TOML into plain data (no symbols), or one problem at the parser's line and column. */
export function parseToml(text: string, file: string): { data: Record<string, unknown> } | { problem: ConfigProblem } {
  try {
    return { data: plain(TOML.parse(text)) as Record<string, unknown> };
  } catch (e) {
    const err = e as { line?: number; col?: number; message: string };
    const message = (err.message.split("\n")[0] ?? "").replace(/ at row \d+, col \d+, pos \d+:?$/, "");
    if (typeof err.line !== "number") return { problem: { file, path: "", message: `TOML: ${message}` } };
    const line = err.line + 1;
    const column = (err.col ?? 0) + 1;
    return { problem: { file, line, column, path: "", message: `${lowerFirst(message)} (column ${column})` } };
  }
}

/** The JSON Schema's verdict on raw, as problems with lines (the validator is deploySchema compiled ahead: scripts/write-schema.ts). */
export function schemaProblems(raw: unknown, file: string, lines: KeyLines): ConfigProblem[] {
  if (validator(raw)) return [];
  return (validator.errors ?? []).flatMap((e) => {
    const converted = convertError(e);
    return converted ? [{ file, ...lineField(lines, converted.path), path: formatPath(converted.path), message: converted.message }] : [];
  });
}

/** One ajv error as a key path and a message a person can act on; null for errors that only repeat another. */
function convertError(e: ErrorObject): { path: KeyPath; message: string } | null {
  const at = pointerPath(e.instancePath);
  // Inside anyOf (build.main: a string or a list) each branch fails on its own; the anyOf
  // error says what is wanted once.
  if (e.schemaPath.includes("/anyOf/")) return null;
  switch (e.keyword) {
    case "anyOf":
      return { path: at, message: ANY_OF_MESSAGES[String(at.at(-1))] ?? "must be one of the allowed types" };
    case "required":
      return { path: [...at, e.params.missingProperty as string], message: "missing (required)" };
    case "additionalProperties": {
      const key = e.params.additionalProperty as string;
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return { path: [...at, key], message: unknownKeyMessage(key, allowed) };
    }
    case "enum":
      return {
        path: at,
        message: `must be one of ${(e.params.allowedValues as unknown[]).filter((v) => v !== null).map((v) => JSON.stringify(v)).join(", ")}`,
      };
    case "propertyNames":
      return null; // the failing inner keyword (pattern) is reported with the name
    case "pattern": {
      const name = (e as ErrorObject & { propertyName?: string }).propertyName;
      if (name !== undefined) return { path: [...at, name], message: `bad name; must match ${e.params.pattern}` };
      return { path: at, message: `${JSON.stringify(e.data)} must match ${e.params.pattern}` };
    }
    case "maxLength": {
      // A key name too long (a process name) is reported at that key, like a bad pattern.
      const name = (e as ErrorObject & { propertyName?: string }).propertyName;
      if (name !== undefined) return { path: [...at, name], message: `bad name; must be at most ${e.params.limit} characters` };
      return { path: at, message: e.message ?? e.keyword };
    }
    case "type":
      return { path: at, message: `must be ${e.params.type === "integer" ? "an integer" : e.params.type}` };
    default:
      return { path: at, message: e.message ?? e.keyword };
  }
}

/** What each key typed with anyOf wants, said once (its branches' own errors are dropped). */
const ANY_OF_MESSAGES: Record<string, string> = {
  main: "must be a non-empty string or a non-empty list of strings",
  batch: 'must be an integer (hosts per wave) or a percentage like "25%"',
};

/** `unknown key (did you mean "health"?)`, or the keys that are allowed. */
export function unknownKeyMessage(key: string, allowed: string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  if (best !== undefined && bestDistance <= (best.length <= 3 ? 1 : 2)) {
    return `unknown key (did you mean "${best}"?)`;
  }
  return allowed.length ? `unknown key; expected one of: ${allowed.join(", ")}` : "unknown key";
}

/** Edits (insert, delete, substitute, swap two neighbours) from a to b: "buidl" is 1 from "build". */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
      }
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * Asks `systemd-analyze calendar` about each expression (in parallel): null when valid,
 * else its complaint. systemd itself is the reference for OnCalendar syntax; without
 * systemd-analyze (macOS, say) nothing is checked here and the map stays empty; the
 * server's systemd still rejects a bad timer when it is installed.
 */
export async function checkCalendars(expressions: string[]): Promise<Map<string, string | null>> {
  const results = new Map<string, string | null>();
  if (expressions.length === 0) return results;
  const analyze = Bun.which("systemd-analyze");
  if (!analyze) return results;
  await Promise.all(
    expressions.map(async (expr) => {
      // Bun.spawn, not zx: loading zx would add ~50 ms to every command (rollback's included).
      const p = Bun.spawn([analyze, "calendar", expr], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
      const out = { stderr: await new Response(p.stderr).text(), exitCode: await p.exited };
      if (out.exitCode === 0) results.set(expr, null);
      else {
        // "Failed to parse calendar specification 'EXPR': Invalid argument": keep the reason.
        const first = out.stderr.trim().split("\n")[0] ?? "";
        const why = first.includes(": ") ? first.slice(first.lastIndexOf(": ") + 2) : first || `exit status ${out.exitCode}`;
        results.set(expr, `not a valid calendar expression (systemd-analyze calendar: ${why}); e.g. "hourly" or "Sun *-*-* 04:00:00"`);
      }
    }),
  );
  return results;
}

function lineField(lines: KeyLines, p: KeyPath): { line?: number } {
  const line = lineOf(lines, p);
  return line === undefined ? {} : { line };
}

/** `/web/health` -> ["web", "health"]; `/jobs/0` -> ["jobs", 0]. */
function pointerPath(pointer: string): KeyPath {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Drops @iarna/toml's symbol-keyed type tags: the rest of qdeploy sees plain data. */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (isTable(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function sortByLine(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.line ?? 0) - (b.p.line ?? 0) || a.i - b.i)
    .map(({ p }) => p);
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line}\n${p.path}\n${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}
