/**
 * The shape of qdeploy's command table: each command names its words, its arguments (as a
 * usage string the argument count is read from), its flags, a summary and examples. The
 * parser, the help, the docs' commands table and shell completion are all read off this one table.
 */
import type { Ctx } from "../commands/context.ts";

/** How a flag's value is read: a switch, text, or a whole number (checked against `min`). */
export type FlagType = "bool" | "string" | "int";

export interface FlagSpec {
  /** Long name without the dashes: "lock-wait". */
  name: string;
  /** One letter: "n" for -n. */
  short?: string;
  type: FlagType;
  /** The value's placeholder in help: "SECS". */
  value?: string;
  help: string;
  /** Smallest value an int flag takes. */
  min?: number;
  /** The values a string flag takes (help, completion and validation). */
  choices?: string[];
  /** Where completion offers files for the value. */
  file?: boolean;
}

/** What a command's `run` gets: its positionals by usage name, its flags, and the words after `--`. */
export interface Invocation {
  /** Positional arguments, in order. */
  args: string[];
  /** Flag values by long name; ints are numbers, switches true. */
  flags: Record<string, string | number | boolean | undefined>;
  /** The command after `--` (and after the declared arguments) for commands with `rest`. */
  rest: string[];
}

export interface CommandSpec {
  /** The words that name it: "push", "secrets set", "serve token add". */
  name: string;
  /** The positional arguments: "ENV [RELEASE]"; "KEY..." is one or more, "[KEY...]" any number. */
  usage: string;
  /** One line for the command list. */
  summary: string;
  /** More for `qdeploy help CMD` and docs/commands.md's table (markdown is kept to `code`). */
  details?: string;
  flags: FlagSpec[];
  examples: string[];
  /** Takes a command after `--` (exec): the words after the declared arguments. */
  rest?: string;
  /** Not listed in help (the completion helper). */
  hidden?: boolean;
  run(ctx: Ctx, inv: Invocation): Promise<number>;
}

/** A positional argument read off a usage string. */
export interface ArgSpec {
  name: string;
  optional: boolean;
  variadic: boolean;
}

/** "ENV [RELEASE]" -> [{ENV}, {RELEASE, optional}]; "KEY..." is variadic. */
export function argSpecs(usage: string): ArgSpec[] {
  return usage
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => {
      const optional = word.startsWith("[") && word.endsWith("]");
      const bare = optional ? word.slice(1, -1) : word;
      const variadic = bare.endsWith("...");
      return { name: variadic ? bare.slice(0, -3) : bare, optional, variadic };
    });
}

/** How many positionals a usage takes: at least `min`, at most `max` (Infinity when variadic). */
export function arity(usage: string): { min: number; max: number } {
  const specs = argSpecs(usage);
  return {
    min: specs.filter((s) => !s.optional).length,
    max: specs.some((s) => s.variadic) ? Infinity : specs.length,
  };
}

/** The flags every command takes. */
export const GLOBAL_FLAGS: FlagSpec[] = [
  { name: "config", type: "string", value: "FILE", help: "the deploy.toml to read (default ./deploy.toml)", file: true },
  { name: "json", type: "bool", help: "machine-readable output on stdout, errors too ({ok:false,error:{kind,message,hint}})" },
  { name: "quiet", short: "q", type: "bool", help: "only results and errors" },
  { name: "verbose", short: "v", type: "bool", help: "every step and command, and stack traces" },
  { name: "no-color", type: "bool", help: "no colour (also NO_COLOR=1 or TERM=dumb; FORCE_COLOR=1 forces it on)" },
  { name: "help", short: "h", type: "bool", help: "this help" },
  { name: "version", type: "bool", help: "qdeploy's, Bun's and Go's versions" },
];
