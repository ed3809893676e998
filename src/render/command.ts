/**
 * Procfile commands, run as Heroku runs them (each line through bash). A plain line (shell
 * words and quoting, `$VAR` and `${VAR}`, nothing else) is started directly by systemd,
 * which expands its variables from the process's environment; any other line (`&&`, `|`,
 * `;`, redirections, `VAR=value cmd`, `export`, `$(...)`, `${VAR:-x}`, ...) runs as
 * `/bin/bash -c LINE`. Pure. The renderers (ExecStart=, the release phase's systemd-run argv)
 * read commands with it, and so does `check` (src/config/rules.ts commandsValid, which reports
 * what it refuses): they are given checked commands only, so one `check` accepts always renders.
 */
import { posix } from "node:path";

/** One piece of a word: literal text, or a variable expanded from the process's environment. */
export type WordPart = { text: string } | { variable: string };

/** A command word; `bare` is an unquoted word that is exactly `$NAME` (split at whitespace, like sh). */
export interface Word {
  parts: WordPart[];
  bare: boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** "where: " before a message, or nothing when the caller names the place itself. */
const at = (where: string) => (where ? `${where}: ` : "");

/**
 * Splits a command into words with POSIX shell quoting: '...' is literal, "..." honours
 * \\ \" \$ \` and backslash-newline, a bare backslash escapes the next character, and `$NAME`
 * / `${NAME}` outside single quotes are variables. Throws an Error naming `where`.
 */
export function parseCommand(command: string, where = "command"): Word[] {
  const words: Word[] = [];
  let parts: WordPart[] = [];
  let inWord = false;
  let quoted = false;
  const add = (text: string) => {
    const last = parts.at(-1);
    if (last && "text" in last) last.text += text;
    else parts.push({ text });
  };
  const end = () => {
    if (inWord) {
      const only = parts.length === 1 ? parts[0]! : undefined;
      words.push({ parts, bare: !quoted && only !== undefined && "variable" in only });
    }
    parts = [];
    inWord = false;
    quoted = false;
  };
  /** A `$` at i: returns the index of its last character. */
  const variable = (i: number): number => {
    const rest = command.slice(i + 1);
    if (rest.startsWith("{")) {
      const close = rest.indexOf("}");
      const name = close < 0 ? "" : rest.slice(1, close);
      if (close < 0) throw new Error(`${at(where)}unterminated \${ in ${JSON.stringify(command)}`);
      if (!new RegExp(`${NAME.source}$`).test(name)) {
        throw new Error(`${at(where)}"\${${name}}" is not supported (only \${NAME} and $NAME; write \\$ for a literal $)`);
      }
      parts.push({ variable: name });
      return i + 1 + close;
    }
    const name = NAME.exec(rest)?.[0];
    if (name === undefined) {
      // `$` before something that is not a name ($1, $?, a lone $) stays literal, as in sh.
      if (/^[0-9?#@*!$-]/.test(rest)) throw new Error(`${at(where)}"$${rest[0]}" is not supported (only \${NAME} and $NAME; write \\$ for a literal $)`);
      add("$");
      return i;
    }
    parts.push({ variable: name });
    return i + name.length;
  };
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === " " || c === "\t" || c === "\n") {
      end();
    } else if (c === "'") {
      const close = command.indexOf("'", i + 1);
      if (close < 0) throw new Error(`${at(where)}unterminated ' in ${JSON.stringify(command)}`);
      add(command.slice(i + 1, close));
      inWord = quoted = true;
      i = close;
    } else if (c === '"') {
      inWord = quoted = true;
      add("");
      for (i++; ; i++) {
        if (i >= command.length) throw new Error(`${at(where)}unterminated " in ${JSON.stringify(command)}`);
        const d = command[i]!;
        if (d === '"') break;
        if (d === "\\" && i + 1 < command.length && '\\"$`\n'.includes(command[i + 1]!)) {
          i++;
          if (command[i] !== "\n") add(command[i]!);
        } else if (d === "$") i = variable(i);
        else if (d === "`") throw new Error(`${at(where)}shell syntax "\`" is not supported in ${JSON.stringify(command)}; quote it, or run a script`);
        else add(d);
      }
    } else if (c === "\\") {
      if (i + 1 >= command.length) throw new Error(`${at(where)}trailing backslash in ${JSON.stringify(command)}`);
      i++;
      if (command[i] !== "\n") {
        add(command[i]!);
        inWord = quoted = true;
      }
    } else if (c === "$") {
      inWord = true;
      i = variable(i);
    } else if ("|&;<>()`".includes(c)) {
      throw new Error(`${at(where)}shell syntax "${c}" is not supported in ${JSON.stringify(command)}; quote it, or run a script`);
    } else {
      add(c);
      inWord = true;
    }
  }
  end();
  return words.map((w) => ({ ...w, parts: w.parts.filter((p) => !("text" in p) || p.text !== "" || w.parts.length === 1) }));
}

/** The words as literal strings, each variable written `${NAME}` (for messages and first-word checks). */
export function splitCommand(command: string, where = "command"): string[] {
  return parseCommand(command, where).map(literalWord);
}

/** A word without variables as its text; a word with them as written `${NAME}`. */
export function literalWord(word: Word): string {
  return word.parts.map((p) => ("text" in p ? p.text : `\${${p.variable}}`)).join("");
}

/**
 * A word in systemd's variable syntax (what the manager expands when it starts the
 * process, for unit files and systemd-run alike): literal `$` doubled, a bare `$NAME`
 * kept (split at whitespace, zero words when unset), any other variable `${NAME}` (one
 * word, empty when unset).
 */
export function systemdVariables(word: Word): string {
  if (word.bare) return `$${(word.parts[0] as { variable: string }).variable}`;
  return word.parts.map((p) => ("text" in p ? p.text.replace(/\$/g, "$$$$") : `\${${p.variable}}`)).join("");
}

/** How the first word of a command resolves on the host. */
export type Program =
  | { binary: string }
  | { path: string }
  | { onPath: string }
  /** A file of the slug, relative to the release's app/ dir ("scripts/run.sh"). */
  | { appFile: string };

/**
 * The app's files, as paths relative to its directory ("scripts/run.sh", "bin/tool"), when
 * known; null or undefined: unknown, and a relative path is taken as one of them.
 */
export type AppFiles = ReadonlySet<string> | null | undefined;

/**
 * Resolves a command's first word: NAME, bin/NAME or ./bin/NAME of a binary the release has,
 * an absolute path, a file of the app by its relative path, or a bare command on PATH.
 * `binaries` null: the release's programs are unknown, and NAME or bin/NAME is taken as one.
 * Throws an Error naming `where`.
 */
export function resolveProgram(first: Word | undefined, binaries: string[] | null, where: string, appFiles?: AppFiles): Program {
  if (first === undefined) throw new Error(`${at(where)}the command is empty`);
  if (first.parts.some((p) => "variable" in p)) {
    throw new Error(`${at(where)}the program "${literalWord(first)}" cannot come from a variable; name the binary`);
  }
  return resolveProgramName(literalWord(first), binaries, where, appFiles);
}

function resolveProgramName(word: string, binaries: string[] | null, where: string, appFiles: AppFiles): Program {
  const relative = word.replace(/^(\.\/+)+/, "");
  // NAME, bin/NAME or ./bin/NAME: a program of the release (any plain name while they are unknown).
  const name = relative.startsWith("bin/") ? relative.slice(4) : word.includes("/") ? null : word;
  if (name !== null && (binaries === null ? /^[A-Za-z0-9._+-]+$/.test(name) : binaries.includes(name))) {
    if (!/^[A-Za-z0-9._+-]+$/.test(name)) throw new Error(`build.binary: "${name}" is not a plain file name`);
    return { binary: name };
  }
  if (word.startsWith("/")) return { path: word };
  if (word.includes("/")) {
    // A file of the slug. While the list is unknown, only bin/ is judged: the release's
    // programs are there, and a name none of them has is far likelier a typo than a script.
    const known = appFiles ? appFiles.has(posix.normalize(relative)) : !relative.startsWith("bin/") || binaries === null;
    if (known) return { appFile: relative };
    const names = (binaries ?? []).map((b) => `"${b}" (or "bin/${b}")`).join(", ");
    throw new Error(
      `${at(where)}"${word}" is not a binary of the release; use ${names ? `${names}, ` : ""}a file of the app (./PATH), an absolute path, or a command on systemd's PATH`,
    );
  }
  if (/^[-@:+!]/.test(word)) throw new Error(`${at(where)}a command may not start with "${word[0]}" (systemd reads it as an ExecStart= prefix)`);
  return { onPath: word };
}

/** The path systemd runs for a program of the release in `releaseDir` (a bare command as is). */
export function programPath(program: Program, releaseDir: string): string {
  if ("binary" in program) return `${releaseDir}/bin/${program.binary}`;
  if ("appFile" in program) return `${releaseDir}/app/${program.appFile}`;
  return "path" in program ? program.path : program.onPath;
}

/** The shell Heroku runs each Procfile line with. */
export const BASH = "/bin/bash";

/** How a command runs: its program and words directly, or a script (the line) through `bash -c`. */
export type CommandRun = { program: Program; args: Word[] } | { shell: string };

/**
 * Goes before a line under which bash would stay alive while a program runs (a pipeline, a
 * redirection, a command after the app, ...: termTrapNeeded). Stopping the unit sends SIGTERM to every
 * process in it; bash would die at once, and systemd, its main process gone while the app
 * still drains, sends what is left a second SIGTERM (its final SIGTERM), which cuts short
 * an app that took back SIGTERM's default after the first. With this trap bash waits for
 * what it runs to finish, runs nothing more and dies of SIGTERM, as it would have.
 */
export const TERM_AFTER_CHILDREN = "trap 'trap - TERM; kill -TERM $$' TERM; ";

/**
 * Reads a command as the renderers run it: a plain line (parseCommand accepts it and its
 * first word is a program, not an assignment or a shell builtin) directly; anything else
 * through bash, after checking the first word of each of its commands. Throws an Error
 * naming `where`.
 */
export function planCommand(command: string, binaries: string[] | null, where: string, appFiles?: AppFiles): CommandRun {
  if (command.includes("\0")) throw new Error(`${at(where)}a command cannot contain a NUL byte`);
  // Throws on what bash could not run either: an unterminated quote or substitution.
  const commands = splitShellCommands(command, where);
  let words: Word[] | null = null;
  try {
    words = parseCommand(command, where);
  } catch {
    // Syntax beyond plain words: bash's.
  }
  const head = commands[0]?.words[0];
  if (words !== null && !(head && (isAssignment(head) || SHELL_WORDS.has(head.raw)))) {
    const [first, ...args] = words;
    return { program: resolveProgram(first, binaries, where, appFiles), args };
  }
  if (commands.length === 0) throw new Error(`${at(where)}the command is empty`);
  let moved = false; // after a cd, a relative path is not the app's
  for (const { words } of commands) {
    const program = checkShellCommand(words, binaries, where, appFiles, moved);
    if (program === "cd" || program === "pushd" || program === "popd") moved = true;
  }
  return { shell: termTrapNeeded(commands) ? `${TERM_AFTER_CHILDREN}${command}` : command };
}

/** Checks a command as the renderers will read it; throws an Error naming `where`. */
export function checkCommand(command: string, binaries: string[] | null, where = "", appFiles?: AppFiles): void {
  planCommand(command, binaries, where, appFiles);
}

// ---- shell lines ---------------------------------------------------------------------

/** A word of a shell line: as written, and its value when it has no expansion ($, `, $(...)). */
export interface ShellWord {
  raw: string;
  literal: string | null;
}

/** Bash builtins that are no program on Debian, and bash's reserved words. */
const SHELL_WORDS = new Set([
  ".", "alias", "bind", "break", "builtin", "caller", "cd", "command", "compgen", "complete", "compopt", "continue",
  "declare", "dirs", "disown", "enable", "eval", "exec", "exit", "export", "fc", "getopts", "hash", "help", "history",
  "jobs", "let", "local", "logout", "mapfile", "popd", "pushd", "read", "readarray", "readonly", "return", "set",
  "shift", "shopt", "source", "suspend", "times", "trap", "type", "typeset", "ulimit", "umask", "unalias", "unset", "wait",
  "!", "{", "}", "[[", "]]", "case", "coproc", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if", "in",
  "select", "then", "time", "until", "while",
]);

/** Words after which the next word is the command bash runs (their options skipped). */
const PREFIX_WORDS = new Set(["exec", "command", "builtin", "time", "!", "{", "if", "then", "elif", "else", "do", "while", "until"]);

/** Bash's reserved words: a line with one is a compound command. */
const KEYWORDS = new Set(["!", "{", "}", "[[", "]]", "case", "coproc", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if", "in", "select", "then", "time", "until", "while"]);

/** Builtins that are also programs on Debian: bash runs them itself, no process. */
const BUILTIN_PROGRAMS = new Set(["echo", "false", "kill", "printf", "pwd", "test", "[", "true"]);

/**
 * Whether bash would stay alive while a program of the line runs (then TERM_AFTER_CHILDREN
 * goes first). Not when bash runs nothing but builtins and then replaces itself with the
 * last command, as bash 5.2 (Debian 12's) does with `export X=1 && app`, `cd d; app` and a
 * lone `VAR=1 app`: the earlier commands builtins or assignments, the last a program without
 * a redirection (unless through exec), right after `;` or in an `&&`/`||` chain with no `;`,
 * and no pipeline, background job, subshell or compound command. In doubt, yes: the trap is
 * always right, only one process heavier.
 */
export function termTrapNeeded(commands: ShellCommand[]): boolean {
  const program = (c: ShellCommand) => c.words.find((w) => !isAssignment(w));
  const builtin = (w: ShellWord | undefined) => w === undefined || SHELL_WORDS.has(w.raw) || BUILTIN_PROGRAMS.has(w.raw);
  const last = commands.at(-1);
  const first = last && program(last);
  if (!first || (first.raw !== "exec" && (builtin(first) || last.redirects))) return true;
  if (commands.some((c) => ["|", "|&", "&", "(", ")", ";;", ";&", ";;&"].includes(c.next) || KEYWORDS.has(program(c)?.raw ?? ""))) return true;
  const before = commands.slice(0, -1);
  if (!before.every((c) => builtin(program(c)))) return true;
  const semicolon = before.findLastIndex((c) => c.next === ";" || c.next === "\n");
  return semicolon >= 0 && semicolon !== before.length - 1;
}

/** `NAME=value` (or `NAME+=`, `NAME[i]=`): an assignment, not a command name. */
function isAssignment(word: ShellWord): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/.test(word.raw);
}

/**
 * The first word of one command of a shell line, after assignments and prefixes like
 * `exec`, must name a program as a plain line's must; a builtin or a compound command
 * (for, case, [[ ...) is bash's own. `moved`: an earlier command changed directory, so a
 * relative path is not judged. Returns that word as written.
 */
function checkShellCommand(words: ShellWord[], binaries: string[] | null, where: string, appFiles: AppFiles, moved: boolean): string | undefined {
  let i = 0;
  for (let w = words[0]; w !== undefined; w = words[i]) {
    if (isAssignment(w)) i++;
    else if (PREFIX_WORDS.has(w.raw)) {
      i++;
      // exec -a NAME -c -l, command -p, time -p: options before the program.
      if (w.raw === "exec" || w.raw === "command" || w.raw === "time") {
        for (; words[i]?.raw.startsWith("-"); i++) if (w.raw === "exec" && words[i]!.raw === "-a") i++;
      }
    } else break;
  }
  const word = words[i];
  if (word === undefined || SHELL_WORDS.has(word.raw)) return word?.raw;
  if (word.literal === null) throw new Error(`${at(where)}the program "${word.raw}" cannot come from a variable; name the binary`);
  if (!(moved && word.literal.includes("/") && !word.literal.startsWith("/"))) resolveProgramName(word.literal, binaries, where, appFiles);
  return word.raw;
}

/** One simple command of a shell line. */
export interface ShellCommand {
  /** Its words, without redirections and their targets. */
  words: ShellWord[];
  redirects: boolean;
  /** The operator after it: `&&`, `||`, `;`, newline, `|`, `|&`, `&`, `(`, `)`, or "" at the end. */
  next: string;
}

/**
 * Splits a line the way bash does into simple commands (at `;` `&&` `||` `|` `&`, newlines
 * and parentheses outside quotes) of words, leaving out redirections and their targets and
 * a `#` comment. Quotes, `$(...)`, `${...}` and backticks are kept whole inside their
 * word. Throws an Error naming `where` on an unterminated quote or substitution.
 */
export function splitShellCommands(line: string, where = "command"): ShellCommand[] {
  const commands: ShellCommand[] = [];
  let words: ShellWord[] = [];
  let redirects = false;
  let start = -1; // the current word's first index, -1 outside a word
  let literal: string | null = "";
  let redirect = false; // the next word is a redirection's target
  const unterminated = (what: string): never => {
    throw new Error(`${at(where)}unterminated ${what} in ${JSON.stringify(line)}`);
  };
  const begin = (i: number) => {
    if (start < 0) start = i;
  };
  const endWord = (i: number) => {
    if (start >= 0) {
      if (redirect) redirect = false;
      else words.push({ raw: line.slice(start, i), literal });
    }
    start = -1;
    literal = "";
  };
  const endCommand = (i: number, next: string) => {
    endWord(i);
    if (words.length) commands.push({ words, redirects, next });
    words = [];
    redirect = redirects = false;
  };
  /** The index of the character that closes the group opened at i (`(` or `{`). */
  const close = (i: number): number => {
    const open = line[i]!;
    const closer = open === "(" ? ")" : "}";
    for (let depth = 0, j = i; j < line.length; j++) {
      const c = line[j]!;
      if (c === "\\") j++;
      else if (c === "'") j = line.indexOf("'", j + 1) < 0 ? unterminated("'") : line.indexOf("'", j + 1);
      else if (c === '"') j = closeDouble(j);
      else if (c === "`") j = closeBacktick(j);
      else if (c === open) depth++;
      else if (c === closer && --depth === 0) return j;
    }
    return unterminated(open === "(" ? "$(" : "${");
  };
  const closeBacktick = (i: number): number => {
    for (let j = i + 1; j < line.length; j++) {
      if (line[j] === "\\") j++;
      else if (line[j] === "`") return j;
    }
    return unterminated("`");
  };
  /** A `$` at i: returns the index of its last character; sets literal to null when it expands. */
  const dollar = (i: number, quoted: boolean): number => {
    const next = line[i + 1];
    if (next === "(" || next === "{") {
      literal = null;
      return close(i + 1);
    }
    if (next !== undefined && /[A-Za-z_]/.test(next)) {
      literal = null;
      return i + NAME.exec(line.slice(i + 1))![0].length;
    }
    if (next !== undefined && /[0-9?#@*!$-]/.test(next)) {
      literal = null;
      return i + 1;
    }
    if (!quoted && next === "'") {
      literal = null; // $'...': C escapes, not judged
      for (let j = i + 2; j < line.length; j++) {
        if (line[j] === "\\") j++;
        else if (line[j] === "'") return j;
      }
      return unterminated("'");
    }
    if (literal !== null) literal += "$";
    return i;
  };
  const closeDouble = (i: number): number => {
    for (let j = i + 1; j < line.length; j++) {
      const c = line[j]!;
      if (c === '"') return j;
      if (c === "\\") {
        j++;
        const d = line[j];
        if (literal !== null && d !== undefined && d !== "\n") literal += '\\$`"'.includes(d) ? d : `\\${d}`;
      } else if (c === "$") j = dollar(j, true);
      else if (c === "`") {
        literal = null;
        j = closeBacktick(j);
      } else if (literal !== null) literal += c;
    }
    return unterminated('"');
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === " " || c === "\t") endWord(i);
    else if (c === "\n") endCommand(i, "\n");
    else if (c === "#" && start < 0) {
      const nl = line.indexOf("\n", i);
      i = nl < 0 ? line.length : nl - 1;
    } else if (c === "'") {
      begin(i);
      const j = line.indexOf("'", i + 1);
      if (j < 0) unterminated("'");
      if (literal !== null) literal += line.slice(i + 1, j);
      i = j;
    } else if (c === '"') {
      begin(i);
      i = closeDouble(i);
    } else if (c === "\\") {
      if (i + 1 >= line.length) throw new Error(`${at(where)}trailing backslash in ${JSON.stringify(line)}`);
      i++;
      if (line[i] !== "\n") {
        begin(i - 1);
        if (literal !== null) literal += line[i];
      }
    } else if (c === "$") {
      begin(i);
      i = dollar(i, false);
    } else if (c === "`") {
      begin(i);
      literal = null;
      i = closeBacktick(i);
    } else if ((c === "<" || c === ">") && line[i + 1] === "(") {
      begin(i); // process substitution: a word
      literal = null;
      i = close(i + 1);
    } else if (c === "<" || c === ">" || (c === "&" && line[i + 1] === ">")) {
      // A redirection: a leading fd number ("2>") is part of it; so is its target, the next word.
      if (start >= 0 && /^[0-9]+$|^\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(line.slice(start, i))) start = -1;
      endWord(i);
      literal = "";
      i += /^(&>>|<<<|<<-|>>|<<|<&|>&|<>|>\||&>)/.exec(line.slice(i))?.[0].length ?? 1;
      i--;
      redirect = redirects = true;
    } else if (c === ";" || c === "&" || c === "|" || c === "(" || c === ")") {
      const op = /^(&&|\|\||;;&|;;|;&|\|&)/.exec(line.slice(i))?.[0] ?? c;
      endCommand(i, op);
      i += op.length - 1;
    } else {
      begin(i);
      if (literal !== null) literal += c;
    }
  }
  endCommand(line.length, "");
  return commands;
}
