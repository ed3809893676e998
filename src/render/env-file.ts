/**
 * A release's env file, in systemd's EnvironmentFile= syntax (systemd.exec(5)).
 * Every value is double-quoted with `\` `"` `` ` `` `$` backslash-escaped; inside double
 * quotes systemd keeps everything else verbatim (spaces, `#`, `'`, newlines, CRs), so any
 * value arrives exactly. The same text is also valid POSIX sh (`set -a; . ./env`) with the
 * same meaning, because sh's double-quote rules are the ones systemd copies.
 */

/** KEY="VALUE" lines sorted by key; throws on a name or value systemd would not pass on. */
export function renderEnvFile(vars: Record<string, string>): string {
  return Object.keys(vars)
    .sort()
    .map((key) => `${checkEnvName(key)}="${escapeEnvValue(key, vars[key]!)}"\n`)
    .join("");
}

/** systemd (and POSIX) accept [A-Za-z_][A-Za-z0-9_]* as a variable name. */
function checkEnvName(key: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
    throw new Error(`env: ${JSON.stringify(key)} is not a valid variable name (letters, digits and _, not starting with a digit)`);
  }
  return key;
}

/** Why systemd could not take this value from an env file, or null (`check` applies it to [env]). */
export function envValueProblem(value: string): string | null {
  if (value.includes("\0")) return "contains a NUL byte, which no environment variable can hold";
  // systemd rejects the whole file on a value that is not valid UTF-8 in its sense
  // (utf8.c unichar_is_valid): lone surrogates and the Unicode noncharacters.
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if ((cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) {
      return `contains U+${cp.toString(16).toUpperCase().padStart(4, "0")}, which systemd refuses`;
    }
  }
  return null;
}

function escapeEnvValue(key: string, value: string): string {
  if (typeof value !== "string") throw new Error(`env: ${key} must be a string`);
  const problem = envValueProblem(value);
  if (problem) throw new Error(`env: ${key} ${problem}`);
  return value.replace(/[\\"`$]/g, (c) => `\\${c}`);
}
