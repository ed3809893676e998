/**
 * What an environment variable's value may hold: what systemd passes on from a release's env
 * file (EnvironmentFile=, ./env-file.ts). [env] is checked by src/config/rules.ts, secrets as
 * their store is read (src/secrets/store.ts).
 */

/** Why systemd could not take this value from an env file, or null. */
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
