/**
 * The plain text inside an encrypted secrets file (and what `secrets.command` prints):
 * dotenv-lite. `KEY=VALUE` takes the value verbatim up to the end of the line; a value
 * holding a newline (or starting with `"`) is written `KEY="..."` with `\n`, `\r`, `\\`
 * and `\"` escapes. Blank lines and `#` lines are ignored. Nothing else: no `export`,
 * no interpolation, no trimming, so what goes in comes out.
 *
 * Problems name the line number, never the line: the line may be a secret.
 */

/** One problem in a dotenv text; `message` already starts with "line N: ". */
export interface DotenvProblem {
  line: number;
  message: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `name` cannot be a secret's name, or null when it can. The message never echoes a malformed name. */
export function secretNameProblem(name: string): string | null {
  if (!NAME.test(name)) return "not a valid name (letters, digits and _, not starting with a digit)";
  if (name === "PORT") return "PORT is set by qdeploy for the web process and cannot be a secret";
  if (name.startsWith("QDEPLOY_")) return `${name}: names starting with QDEPLOY_ are reserved for qdeploy`;
  return null;
}

/** Parses dotenv-lite text into names and values (in file order), with every problem found. */
export function parseDotenv(text: string): { values: Record<string, string>; problems: DotenvProblem[] } {
  const values: Record<string, string> = {};
  const firstLine = new Map<string, number>();
  const problems: DotenvProblem[] = [];
  const lines = text.split("\n");
  lines.forEach((raw, i) => {
    const n = i + 1;
    const problem = (message: string) => problems.push({ line: n, message: `line ${n}: ${message}` });
    // CRLF files from an editor: a value's own \r is always written escaped, so this is safe.
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const trimmed = line.trimStart();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const eq = line.indexOf("=");
    if (eq < 0) return problem("expected KEY=VALUE");
    const name = line.slice(0, eq);
    const nameProblem = secretNameProblem(name);
    if (nameProblem) return problem(nameProblem);
    const rest = line.slice(eq + 1);
    const value = rest.startsWith('"') ? unquote(rest) : rest;
    if (typeof value !== "string") return problem(value.problem);
    const seen = firstLine.get(name);
    if (seen !== undefined) return problem(`${name} is set again (first on line ${seen})`);
    firstLine.set(name, n);
    values[name] = value;
  });
  return { values, problems };
}

/** Writes names and values as dotenv-lite text that parseDotenv reads back identically. */
export function formatDotenv(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([name, value]) => `${name}=${needsQuotes(value) ? quote(value) : value}\n`)
    .join("");
}

function needsQuotes(value: string): boolean {
  return value.startsWith('"') || value.includes("\n") || value.includes("\r");
}

const ESCAPE: Record<string, string> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r" };
const UNESCAPE: Record<string, string> = { "\\": "\\", '"': '"', n: "\n", r: "\r" };

function quote(value: string): string {
  return `"${value.replace(/[\\"\n\r]/g, (c) => ESCAPE[c]!)}"`;
}

function unquote(rest: string): string | { problem: string } {
  let out = "";
  for (let i = 1; i < rest.length; i++) {
    const c = rest[i]!;
    if (c === '"') {
      if (i !== rest.length - 1) return { problem: "text after the closing quote" };
      return out;
    }
    if (c === "\\") {
      const next = UNESCAPE[rest[i + 1] ?? ""];
      if (next === undefined) return { problem: 'unknown escape in a quoted value (use \\n, \\r, \\\\ or \\")' };
      out += next;
      i++;
      continue;
    }
    out += c;
  }
  return { problem: "quoted value has no closing quote" };
}
