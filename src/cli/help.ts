/** Help text read off the command table: the list, one command's page, a group's, the Commands table of docs/commands.md. */
import { commandsUnder, findCommand, unknownCommand, usageLine } from "./parse.ts";
import { COMMANDS } from "./commands.ts";
import { type CommandSpec, type FlagSpec, GLOBAL_FLAGS } from "./spec.ts";

const TAGLINE = "qdeploy: deploy Go apps to your own Linux servers (systemd + Caddy, zero downtime)";

function synopsis(c: CommandSpec): string {
  return [c.name, c.usage, c.rest ? `-- ${c.rest}` : ""].filter(Boolean).join(" ");
}

function listLines(commands: CommandSpec[]): string {
  const visible = commands.filter((c) => !c.hidden);
  const width = Math.min(34, Math.max(...visible.map((c) => synopsis(c).length)) + 2);
  return visible
    .map((c) => {
      const s = synopsis(c);
      return s.length + 2 > width ? `  ${s}\n  ${" ".repeat(width)}${c.summary}` : `  ${s.padEnd(width)}${c.summary}`;
    })
    .join("\n");
}

function flagLabel(f: FlagSpec): string {
  const long = `--${f.name}${f.type === "bool" ? "" : ` ${f.choices ? f.choices.join("|") : (f.value ?? "VALUE")}`}`;
  return f.short ? `-${f.short}, ${long}` : `    ${long}`;
}

function flagLines(flags: FlagSpec[]): string {
  const width = Math.max(...flags.map((f) => flagLabel(f).length)) + 2;
  return flags.map((f) => `  ${flagLabel(f).padEnd(width)}${f.help}`).join("\n");
}

/** `qdeploy --help`: every command, then the global options. */
export function globalHelp(commands: CommandSpec[] = COMMANDS): string {
  return [
    TAGLINE,
    "",
    "usage: qdeploy COMMAND [ARGS] [OPTIONS]",
    "",
    "commands:",
    listLines(commands),
    "",
    "options for every command:",
    flagLines(GLOBAL_FLAGS),
    "",
    "`qdeploy help COMMAND` (or `qdeploy COMMAND --help`) shows a command's options and examples.",
    "Exit status: 0 done, 1 failed, 2 bad usage or config.",
    "",
  ].join("\n");
}

/** `qdeploy help push` / `qdeploy push --help`. */
export function commandHelp(c: CommandSpec): string {
  return [
    `usage: ${usageLine(c)}${c.flags.length ? " [OPTIONS]" : ""}`,
    "",
    wrap(`${c.summary}${c.details ? `: ${plain(c.details)}` : ""}`),
    ...(c.flags.length ? ["", "options:", flagLines(c.flags)] : []),
    "",
    `and every command's: ${GLOBAL_FLAGS.map((f) => `--${f.name}`).join(", ")} (qdeploy --help)`,
    ...(c.examples.length ? ["", "examples:", ...c.examples.map((e) => `  ${e}`)] : []),
    "",
  ].join("\n");
}

/** `qdeploy help secrets`: the commands under a group. */
export function groupHelp(words: string[], commands: CommandSpec[] = COMMANDS): string {
  return [`qdeploy ${words.join(" ")}: one of`, "", listLines(commandsUnder(words, commands)), "", `\`qdeploy help ${words.join(" ")} SUBCOMMAND\` for its options and examples.`, ""].join("\n");
}

/** Help for the words after `help` (none: the list); a word that names nothing is a UsageError. */
export function helpFor(words: string[], commands: CommandSpec[] = COMMANDS): string {
  if (!words.length) return globalHelp(commands);
  const found = findCommand(words, commands);
  if (found && found.used === words.length) return commandHelp(found.command);
  if (commandsUnder(words, commands).length) return groupHelp(words, commands);
  if (found) return commandHelp(found.command);
  throw unknownCommand(words, commands);
}

/** Text broken into lines of at most `width` columns, at spaces. */
function wrap(text: string, width = 96): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join("\n");
}

/** Markdown links and backticks as plain text for the terminal. */
function plain(md: string): string {
  // A " ([Section](page.md#anchor))" points into the docs: no use on a terminal.
  return md.replace(/ \(\[[^\]]+\]\([^)#]*#[^)]+\)\)/g, "").replace(/\[([^\]]+)\]\([^)]+\)/g, "$1").replace(/`/g, "");
}

/** docs/commands.md's table (between `<!-- commands:start -->` and `<!-- commands:end -->`, scripts/docs.ts). */
export function commandsTable(commands: CommandSpec[] = COMMANDS): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|");
  const flags = (c: CommandSpec) =>
    c.flags.map((f) => `${f.short ? `-${f.short}/` : ""}--${f.name}${f.type === "bool" ? "" : ` ${f.choices ? f.choices.join("|") : (f.value ?? "VALUE")}`}`);
  const rows = commands
    .filter((c) => !c.hidden)
    .map((c) => {
      const f = flags(c);
      return `| \`qdeploy ${cell(synopsis(c))}\` | ${cell(c.details ? `${c.summary}: ${c.details}` : c.summary)} | ${f.length ? cell(f.map((x) => `\`${x}\``).join(" ")) : ""} |`;
    });
  return ["| command | what it does | options |", "| --- | --- | --- |", ...rows].join("\n");
}
