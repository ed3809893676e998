/**
 * Last line of defence: text that may have picked up a secret (a remote command's stderr,
 * a journal tail, go's output) goes through redact() before it leaves qdeploy's process.
 * Operations only say which values are secret (Redactor.hide); the edges (the CLI's output
 * and error report, the server's runs and log streams) redact what they send out.
 */

/**
 * Values shorter than this are left alone: "1", "on" or "dev" occur everywhere, so hiding
 * them would mangle every message while protecting nothing a 3-character secret could.
 */
export const MIN_REDACTED_LENGTH = 4;

/** Replaces every occurrence of each secret value (length >= 4, also JSON-escaped and line by line) with "[redacted]". */
export function redact(text: string, secretValues: Iterable<string>): string {
  return redacter(secretValues)(text);
}

/** redact() with these values, its pattern built once (a log stream redacts every line). */
function redacter(secretValues: Iterable<string>): (text: string) => string {
  const needles = new Set<string>();
  const add = (s: string) => {
    if (s.length >= MIN_REDACTED_LENGTH) needles.add(s);
  };
  for (const value of secretValues) {
    add(value);
    add(JSON.stringify(value).slice(1, -1)); // as it shows in JSON and in dotenv's quoted form
    if (value.includes("\n")) for (const line of value.split(/\r?\n/)) add(line.trim());
  }
  if (needles.size === 0) return (text) => text;
  // One pass, longest first: a value inside another is covered by the longer one, and
  // "[redacted]" itself is never searched again.
  const pattern = new RegExp(
    [...needles]
      .sort((a, b) => b.length - a.length)
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join("|"),
    "g",
  );
  return (text) => text.replace(pattern, "[redacted]");
}

/**
 * The secret values an operation has read, for the edge that started it to redact what it
 * sends out. One per CLI process, one per server run or request.
 */
export class Redactor {
  private readonly values = new Set<string>();
  private current: (text: string) => string = (text) => text;

  /** Adds values to hide from everything redacted from now on. */
  hide(values: Iterable<string>): void {
    for (const v of values) this.values.add(v);
    this.current = redacter(this.values);
  }

  /** The text without any value hidden so far (see redact). */
  readonly redact = (text: string): string => this.current(text);
}
