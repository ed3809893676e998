/**
 * Last line of defence: text that may have picked up a secret (a remote command's stderr,
 * a journal tail) goes through redact() before qdeploy prints it.
 */

/**
 * Values shorter than this are left alone: "1", "on" or "dev" occur everywhere, so hiding
 * them would mangle every message while protecting nothing a 3-character secret could.
 */
export const MIN_REDACTED_LENGTH = 4;

/** Replaces every occurrence of each secret value (length >= 4, also JSON-escaped and line by line) with "[redacted]". */
export function redact(text: string, secretValues: Iterable<string>): string {
  const needles = new Set<string>();
  const add = (s: string) => {
    if (s.length >= MIN_REDACTED_LENGTH) needles.add(s);
  };
  for (const value of secretValues) {
    add(value);
    add(JSON.stringify(value).slice(1, -1)); // as it shows in JSON and in dotenv's quoted form
    if (value.includes("\n")) for (const line of value.split(/\r?\n/)) add(line.trim());
  }
  if (needles.size === 0) return text;
  // One pass, longest first: a value inside another is covered by the longer one, and
  // "[redacted]" itself is never searched again.
  const pattern = [...needles]
    .sort((a, b) => b.length - a.length)
    .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("|");
  return text.replace(new RegExp(pattern, "g"), "[redacted]");
}
