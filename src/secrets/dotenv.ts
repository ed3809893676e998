/**
 * dotenv text: what `secrets edit` shows, what `secrets import` and `secrets.command` read,
 * and the plain text inside an encrypted secrets file.
 *
 * parseDotenv reads a file the way the npm `dotenv` package's `parse` (v16, v17) does:
 * `export ` prefix, blank and `#` lines, spaces around `=` and around unquoted values
 * trimmed, ` # comment` after a value, 'single' (literal), "double" (`\n` and `\r`
 * expanded, nothing else) and `backtick` quotes, quoted values over several lines. Where
 * dotenv would silently read something surprising, this reports a problem instead (so it
 * either agrees with dotenv or refuses): a bad name, a line with no `=`, a quote never
 * closed, text after a closing quote, a `#` glued to an unquoted value (dotenv cuts the
 * value there), a name given twice.
 *
 * formatDotenv writes values so that both this parser and dotenv read them back identically.
 *
 * Problems name the line number, never the line: the line may be a secret.
 */

/** One problem in a dotenv text; `message` already starts with "line N: ". */
export interface DotenvProblem {
  line: number;
  message: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const QUOTES = ["'", '"', "`"] as const;

/** Why `name` cannot be a secret's name, or null when it can. The message never echoes a malformed name. */
export function secretNameProblem(name: string): string | null {
  if (!NAME.test(name)) return "not a valid name (letters, digits and _, not starting with a digit)";
  if (name === "PORT") return "PORT is set by qdeploy for the web process and cannot be a secret";
  if (name.startsWith("QDEPLOY_")) return `${name}: names starting with QDEPLOY_ are reserved for qdeploy`;
  return null;
}

/**
 * An empty record of names and values with no prototype: `__proto__`, `constructor` and
 * `toString` are then names like any other (on `{}`, setting `__proto__` is silently
 * dropped and `constructor in values` is true before anything is set).
 */
export function emptyValues(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

/**
 * Parses dotenv text into names and values (in file order), with every problem found.
 * `writable`: a value that formatDotenv could not write back is a problem too (for text
 * that qdeploy stores: `secrets edit`, `secrets import`).
 */
export function parseDotenv(
  text: string,
  opts: { writable?: boolean } = {},
): { values: Record<string, string>; problems: DotenvProblem[] } {
  // As dotenv: CRLF and lone CR are line ends; a byte-order mark is leading whitespace.
  const src = text.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const values = emptyValues();
  const firstLine = new Map<string, number>();
  const problems: DotenvProblem[] = [];
  let pos = 0;
  let lineNo = 1;
  while (pos <= src.length) {
    const n = lineNo;
    const eol = lineEnd(src, pos);
    const next = (end: number) => {
      lineNo += countNewlines(src, pos, end) + 1;
      pos = end + 1;
    };
    const problem = (message: string, skipTo = eol) => {
      problems.push({ line: n, message: `line ${n}: ${message}` });
      next(skipTo);
    };
    const line = src.slice(pos, eol);
    const body = line.replace(/^\s+/, "");
    if (body === "" || body.startsWith("#")) {
      next(eol);
      continue;
    }
    const eq = body.indexOf("=");
    if (eq < 0) {
      problem("expected KEY=VALUE");
      continue;
    }
    const name = body.slice(0, eq).replace(/^export\s+/, "").trim();
    const nameProblem = secretNameProblem(name);
    if (nameProblem) {
      problem(nameProblem);
      continue;
    }
    const afterEq = body.slice(eq + 1);
    const lead = afterEq.length - afterEq.replace(/^\s+/, "").length;
    const start = pos + (line.length - body.length) + eq + 1 + lead; // the value's first character in src
    const first = src[start];
    let value: string;
    let end = eol;
    if (first !== undefined && (QUOTES as readonly string[]).includes(first)) {
      const close = closingQuote(src, start + 1, first);
      if (close < 0) {
        problem(
          `the value starts with ${first} but has no closing ${first} at the end of a line (or before a # comment); ` +
            `a value that starts with a quote must be quoted whole`,
        );
        continue;
      }
      value = src.slice(start + 1, close);
      if (first === '"') value = value.replace(/\\n/g, "\n").replace(/\\r/g, "\r");
      end = lineEnd(src, close);
    } else {
      const hash = afterEq.indexOf("#");
      if (hash >= 0 && !/\s/.test(afterEq[hash - 1] ?? "")) {
        problem("a # right after the = or inside an unquoted value would cut the value there: quote it (KEY='...'), or put a space before a # comment");
        continue;
      }
      value = (hash < 0 ? afterEq : afterEq.slice(0, hash)).trim();
    }
    const seen = firstLine.get(name);
    if (seen !== undefined) {
      problem(`${name} is set again (first on line ${seen})`, end);
      continue;
    }
    const unwritable = opts.writable ? dotenvValueProblem(value) : null;
    if (unwritable) {
      problem(unwritable, end);
      continue;
    }
    firstLine.set(name, n);
    values[name] = value;
    next(end);
  }
  return { values, problems };
}

/**
 * Where the quoted value whose text starts at `from` ends, or -1. As dotenv's grammar: a
 * quote preceded by a backslash may be part of the value; the first one that is not ends
 * the search; of these, the last followed by nothing but spaces or a `#` comment on its
 * line is the closing quote.
 */
function closingQuote(src: string, from: number, q: string): number {
  let best = -1;
  for (let k = src.indexOf(q, from); k >= 0; k = src.indexOf(q, k + 1)) {
    if (/^[^\S\n]*(#|\n|$)/.test(src.slice(k + 1, lineEnd(src, k + 1) + 1))) best = k;
    if (!(k > from && src[k - 1] === "\\")) break;
  }
  return best;
}

function lineEnd(src: string, from: number): number {
  const i = src.indexOf("\n", from);
  return i < 0 ? src.length : i;
}

function countNewlines(src: string, from: number, to: number): number {
  let c = 0;
  for (let i = src.indexOf("\n", from); i >= 0 && i < to; i = src.indexOf("\n", i + 1)) c++;
  return c;
}

/**
 * Why `value` cannot be written to a dotenv file so that dotenv reads it back, or null when
 * it can. Never echoes the value.
 */
export function dotenvValueProblem(value: string): string | null {
  return encodeValue(value) === null
    ? "this value cannot be written in a dotenv file: it needs quotes (a newline, a #, a quote at its start, or spaces at its ends) " +
        "but ends with a backslash or holds all three quote characters (' \" `)"
    : null;
}

/** Writes names and values as dotenv text that parseDotenv (and dotenv) read back identically. */
export function formatDotenv(values: Record<string, string>): string {
  const bad = Object.keys(values).filter((k) => encodeValue(values[k]!) === null);
  if (bad.length) throw new Error(`cannot write ${bad.join(", ")} as dotenv: ${dotenvValueProblem(values[bad[0]!]!)}`);
  return Object.entries(values)
    .map(([name, value]) => `${name}=${encodeValue(value)}\n`)
    .join("");
}

/** The shortest safe spelling of a value: bare, then 'single', "double" (for \r), `backtick`; null when none is safe. */
function encodeValue(value: string): string | null {
  if (value === "") return "";
  if (value === value.trim() && !/[#\n\r]/.test(value) && !(QUOTES as readonly string[]).includes(value[0]!)) return value;
  const literal = (q: string) => !value.includes("\r") && quotable(value, q) ? `${q}${value}${q}` : null;
  const doubled = () => {
    if (/\\[nr]/.test(value)) return null; // dotenv would expand them
    const content = value.replace(/\n/g, "\\n").replace(/\r/g, "\\r");
    return quotable(content, '"') ? `"${content}"` : null;
  };
  return literal("'") ?? doubled() ?? literal("`");
}

/** In quotes `q`, `content` reads back as itself: each q in it follows a backslash, and it does not end with one. */
function quotable(content: string, q: string): boolean {
  if (content.endsWith("\\")) return false;
  for (let i = content.indexOf(q); i >= 0; i = content.indexOf(q, i + 1)) if (content[i - 1] !== "\\") return false;
  return true;
}

// ---- the plain text inside an encrypted secrets file ----

/** The first line of what qdeploy encrypts: says the rest is dotenv text (files before had none). */
export const SECRETS_FORMAT_LINE = "# qdeploy secrets: dotenv";

/** What qdeploy encrypts into a secrets file: the format line, then dotenv text. */
export function formatSecretsText(values: Record<string, string>): string {
  return `${SECRETS_FORMAT_LINE}\n${formatDotenv(values)}`;
}

/**
 * Reads the plain text of a secrets file. Without the format line it may be a file written
 * by an older qdeploy, whose format took values verbatim (spaces, `#`) and had `\\` and `\"`
 * escapes: such a file is read the old way when it reads cleanly that way, so that no stored
 * value changes its meaning; otherwise (a hand-made dotenv file) as dotenv.
 */
export function parseSecretsText(text: string): { values: Record<string, string>; problems: DotenvProblem[] } {
  if (text.startsWith(`${SECRETS_FORMAT_LINE}\n`) || text === SECRETS_FORMAT_LINE) return parseDotenv(text);
  const legacy = parseLegacyDotenv(text);
  return legacy.problems.length ? parseDotenv(text) : legacy;
}

/**
 * The format of qdeploy before dotenv compatibility: `KEY=VALUE` verbatim to the end of the
 * line; `KEY="..."` with `\n`, `\r`, `\\`, `\"` escapes; `#` lines skipped.
 */
export function parseLegacyDotenv(text: string): { values: Record<string, string>; problems: DotenvProblem[] } {
  const values = emptyValues();
  const firstLine = new Map<string, number>();
  const problems: DotenvProblem[] = [];
  text.split("\n").forEach((raw, i) => {
    const n = i + 1;
    const problem = (message: string) => problems.push({ line: n, message: `line ${n}: ${message}` });
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const trimmed = line.trimStart();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const eq = line.indexOf("=");
    if (eq < 0) return problem("expected KEY=VALUE");
    const name = line.slice(0, eq);
    const nameProblem = secretNameProblem(name);
    if (nameProblem) return problem(nameProblem);
    const rest = line.slice(eq + 1);
    const value = rest.startsWith('"') ? legacyUnquote(rest) : rest;
    if (typeof value !== "string") return problem(value.problem);
    const seen = firstLine.get(name);
    if (seen !== undefined) return problem(`${name} is set again (first on line ${seen})`);
    firstLine.set(name, n);
    values[name] = value;
  });
  return { values, problems };
}

const LEGACY_UNESCAPE: Record<string, string> = { "\\": "\\", '"': '"', n: "\n", r: "\r" };

function legacyUnquote(rest: string): string | { problem: string } {
  let out = "";
  for (let i = 1; i < rest.length; i++) {
    const c = rest[i]!;
    if (c === '"') return i === rest.length - 1 ? out : { problem: "text after the closing quote" };
    if (c === "\\") {
      const next = LEGACY_UNESCAPE[rest[i + 1] ?? ""];
      if (next === undefined) return { problem: "unknown escape in a quoted value" };
      out += next;
      i++;
      continue;
    }
    out += c;
  }
  return { problem: "quoted value has no closing quote" };
}
