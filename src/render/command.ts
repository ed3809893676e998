/**
 * Procfile commands, read like Heroku reads them: shell words and quoting, `$VAR` and
 * `${VAR}` expanded from the process's environment, no other shell syntax. Pure. The same
 * parse serves the renderers (ExecStart=, the release phase's systemd-run argv) and
 * `check`, so a command `check` accepts always renders.
 */

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
export type Program = { binary: string } | { path: string } | { onPath: string };

/**
 * Resolves a command's first word: NAME or bin/NAME of a binary the release has, an
 * absolute path, or a bare command on systemd's PATH. Throws an Error naming `where`.
 */
export function resolveProgram(first: Word | undefined, binaries: string[], where: string): Program {
  if (first === undefined) throw new Error(`${at(where)}the command is empty`);
  if (first.parts.some((p) => "variable" in p)) {
    throw new Error(`${at(where)}the program "${literalWord(first)}" cannot come from a variable; name the binary`);
  }
  const word = literalWord(first);
  const name = word.startsWith("bin/") ? word.slice(4) : word;
  if (binaries.includes(name)) {
    if (!/^[A-Za-z0-9._+-]+$/.test(name)) throw new Error(`build.binary: "${name}" is not a plain file name`);
    return { binary: name };
  }
  if (word.startsWith("/")) return { path: word };
  const known = binaries.map((b) => `"${b}" (or "bin/${b}")`).join(", ");
  if (word.includes("/")) {
    throw new Error(`${at(where)}"${word}" is not a binary of the release; use ${known}, an absolute path, or a command on systemd's PATH`);
  }
  if (/^[-@:+!]/.test(word)) throw new Error(`${at(where)}a command may not start with "${word[0]}" (systemd reads it as an ExecStart= prefix)`);
  return { onPath: word };
}

/** Checks a command as the renderers will read it; throws an Error naming `where`. */
export function checkCommand(command: string, binaries: string[] | null, where = ""): void {
  if (command.includes("\0")) throw new Error(`${at(where)}a command cannot contain a NUL byte`);
  const first = parseCommand(command, where)[0];
  // null: the release's programs are unknown (build.main did not expand); take NAME as one.
  const names = binaries ?? (first && first.parts.every((p) => !("variable" in p)) ? [literalWord(first).replace(/^bin\//, "")] : []);
  resolveProgram(first, names, where);
}
