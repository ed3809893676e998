/**
 * The command line against the command table, with node:util's parseArgs: find the command
 * (the longest run of leading words that names one), then parse strictly with that command's
 * flags and the global ones. Every mistake is a UsageError (exit 2) that says what was wrong
 * and, where one is close, what was meant.
 */
import { parseArgs as nodeParseArgs } from "node:util";
import { UsageError } from "../errors.ts";
import { COMMANDS } from "./commands.ts";
import { arity, type CommandSpec, type FlagSpec, GLOBAL_FLAGS, type Invocation } from "./spec.ts";
import { didYouMean } from "./suggest.ts";

/** What the command line asks for. */
export type Parsed =
  | { kind: "run"; command: CommandSpec; inv: Invocation; globals: Globals }
  /** --help / help with no command, a command, or a group ("secrets"): the words named. */
  | { kind: "help"; words: string[]; globals: Globals }
  | { kind: "version"; globals: Globals };

export interface Globals {
  config?: string;
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  noColor: boolean;
}

type NodeOptions = Record<string, { type: "string" | "boolean"; short?: string }>;

function nodeOptions(flags: FlagSpec[]): NodeOptions {
  const o: NodeOptions = {};
  for (const f of flags) o[f.name] = { type: f.type === "bool" ? "boolean" : "string", ...(f.short && { short: f.short }) };
  return o;
}

/** Every flag any command takes, for the first, lenient pass (one type per name: see the test). */
export function allFlags(commands: CommandSpec[] = COMMANDS): FlagSpec[] {
  const byName = new Map<string, FlagSpec>();
  for (const f of [...GLOBAL_FLAGS, ...commands.flatMap((c) => c.flags)]) if (!byName.has(f.name)) byName.set(f.name, f);
  return [...byName.values()];
}

/** The words before `--` that are not flags or flag values, and the words after it. */
function splitWords(argv: string[], flags: FlagSpec[], strict: boolean) {
  const { values, tokens } = nodeParseArgs({ args: argv, options: nodeOptions(flags), strict, allowPositionals: true, tokens: true });
  const terminator = tokens.find((t) => t.kind === "option-terminator")?.index ?? Infinity;
  const positional = tokens.filter((t) => t.kind === "positional");
  return {
    values,
    words: positional.filter((t) => t.index < terminator).map((t) => t.value),
    after: positional.filter((t) => t.index > terminator).map((t) => t.value),
    terminated: terminator !== Infinity,
  };
}

/** The command the leading words name (longest match), and how many words that took. */
export function findCommand(words: string[], commands: CommandSpec[] = COMMANDS): { command: CommandSpec; used: number } | null {
  let best: { command: CommandSpec; used: number } | null = null;
  for (const c of commands) {
    const name = c.name.split(" ");
    if (name.length <= words.length && name.every((w, i) => w === words[i]) && (!best || name.length > best.used)) best = { command: c, used: name.length };
  }
  return best;
}

/** Commands whose name starts with these words ("secrets" -> secrets set, ...). */
export function commandsUnder(words: string[], commands: CommandSpec[] = COMMANDS): CommandSpec[] {
  return commands.filter((c) => !c.hidden && words.every((w, i) => c.name.split(" ")[i] === w) && c.name.split(" ").length > words.length);
}

function globalsOf(values: Record<string, unknown>): Globals {
  return {
    ...(typeof values.config === "string" && { config: values.config }),
    json: values.json === true,
    quiet: values.quiet === true,
    verbose: values.verbose === true,
    noColor: values["no-color"] === true,
  };
}

/** Parses argv (without the program name) against the table. */
export function parseCommandLine(argv: string[], commands: CommandSpec[] = COMMANDS): Parsed {
  // Pass 1, lenient: which command, and whether help or version was asked for.
  const loose = splitWords(argv, allFlags(commands), false);
  const globals = globalsOf(loose.values);
  const found = findCommand(loose.words, commands);
  if (loose.values.version === true) return { kind: "version", globals };
  if (loose.values.help === true) return { kind: "help", words: found ? found.command.name.split(" ") : loose.words.slice(0, 3), globals };
  if (!loose.words.length) throw new UsageError("a command is missing (see qdeploy --help)");
  if (!found) throw unknownCommand(loose.words, commands);
  const { command, used } = found;
  // A group name followed by a word that is no subcommand of it ("secrets frob").
  const deeper = commandsUnder(loose.words.slice(0, used), commands);
  const intoGroup = loose.words.length > used && commandsUnder(loose.words.slice(0, used + 1), commands).length > 0;
  if (intoGroup || (deeper.length && loose.words.length > used && !command.usage)) {
    throw unknownCommand(loose.words, commands);
  }

  // Pass 2, strict: only this command's flags and the global ones.
  const flags = [...GLOBAL_FLAGS, ...command.flags];
  let strict: ReturnType<typeof splitWords>;
  try {
    strict = splitWords(argv, flags, true);
  } catch (e) {
    throw flagError(e, command, flags, commands);
  }
  const positionals = strict.words.slice(used);
  const inv: Invocation = { args: positionals, flags: {}, rest: [] };
  if (command.rest) {
    const { max } = arity(command.usage);
    inv.args = positionals.slice(0, max);
    inv.rest = [...positionals.slice(max), ...strict.after];
  } else {
    inv.args = [...positionals, ...strict.after];
  }
  checkArity(command, inv.args);
  for (const f of command.flags) {
    const v = strict.values[f.name];
    if (v !== undefined) inv.flags[f.name] = checkValue(f, v as string | boolean);
  }
  return { kind: "run", command, inv, globals };
}

/** The error for words that name no command, with the closest subcommands of the deepest group they name. */
export function unknownCommand(words: string[], commands: CommandSpec[]): UsageError {
  // The deepest group the words name ("secrets recipients"), then the word that is none of its subcommands.
  let depth = 0;
  while (depth < words.length && commandsUnder(words.slice(0, depth + 1), commands).length > 0) depth++;
  const group = words.slice(0, depth);
  const wrong = words[depth] ?? "";
  const options = [...new Set(commands.filter((c) => !c.hidden && group.every((w, i) => c.name.split(" ")[i] === w)).map((c) => c.name.split(" ")[depth]).filter((w): w is string => Boolean(w)))];
  const name = [...group, wrong].join(" ");
  const mean = didYouMean(wrong, options);
  const see = group.length ? `qdeploy help ${group.join(" ")}` : "qdeploy --help";
  if (!wrong) return new UsageError(`"${group.join(" ")}" needs a subcommand: ${options.join(", ")} (see ${see})`);
  return new UsageError(`unknown command "${name}" (${mean ? `${mean}; ` : ""}see ${see})`);
}

function flagError(e: unknown, command: CommandSpec, flags: FlagSpec[], commands: CommandSpec[]): UsageError {
  const err = e as { code?: string; message?: string };
  const quoted = /'(-{1,2}[^' ]+)/.exec(err.message ?? "")?.[1] ?? "";
  const see = `see qdeploy help ${command.name}`;
  if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const bare = quoted.replace(/^-+/, "");
    const mean = didYouMean(bare, flags.map((f) => f.name)).replace(/(\w[\w-]*)(?=\?| or )/g, "--$1");
    const elsewhere = commands.filter((c) => c.flags.some((f) => f.name === bare || f.short === bare)).map((c) => c.name);
    const where = !mean && elsewhere.length ? `it goes with ${elsewhere.slice(0, 3).join(", ")}; ` : "";
    return new UsageError(`unknown option ${quoted} for "${command.name}" (${mean ? `${mean}; ` : ""}${where}${see})`);
  }
  if (err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const name = quoted.replace(/^-+/, "");
    const f = flags.find((x) => x.name === name || x.short === name);
    if (f?.type === "bool") return new UsageError(`${quoted} takes no value (${see})`);
    return new UsageError(`${quoted} needs a value${f?.value ? ` (${f.value})` : ""} (${see}; a value starting with - goes as --${f?.name ?? name}=VALUE)`);
  }
  return new UsageError(`${err.message ?? String(e)} (${see})`);
}

/** `qdeploy exec ENV -- COMMAND...` */
export function usageLine(command: CommandSpec): string {
  return ["qdeploy", command.name, command.usage, command.rest ? `-- ${command.rest}` : ""].filter(Boolean).join(" ");
}

function checkArity(command: CommandSpec, args: string[]): void {
  const { min, max } = arity(command.usage);
  const usage = `usage: ${usageLine(command)}`;
  if (args.length < min) {
    const missing = command.usage.split(/\s+/).filter((w) => w && !w.startsWith("["))[args.length];
    throw new UsageError(`${command.name}: ${missing ?? "an argument"} is missing (${usage})`);
  }
  if (args.length > max) {
    const extra = args.slice(max);
    throw new UsageError(`${command.name}: unexpected argument${extra.length > 1 ? "s" : ""} ${extra.map((a) => JSON.stringify(a)).join(" ")} (${usage})`);
  }
}

function checkValue(f: FlagSpec, v: string | boolean): string | number | boolean {
  if (f.type === "bool" || typeof v === "boolean") return v;
  if (f.type === "int") {
    const min = f.min ?? 0;
    if (!/^\d+$/.test(v.trim()) || Number(v) < min || !Number.isSafeInteger(Number(v))) {
      throw new UsageError(`--${f.name} must be a whole number${min > 0 ? ` of at least ${min}` : ""}, not ${JSON.stringify(v)}`);
    }
    return Number(v);
  }
  if (f.choices && !f.choices.includes(v)) {
    throw new UsageError(`--${f.name} must be ${f.choices.join(" or ")}, not ${JSON.stringify(v)}${didYouMean(v, f.choices) ? ` (${didYouMean(v, f.choices)})` : ""}`);
  }
  return v;
}
