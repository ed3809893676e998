/**
 * What a child process qdeploy starts may inherit of its environment: never the age key it
 * was handed. Here, below every layer, because the secrets and the build both start children.
 */

/** The variable that hands qdeploy an identity (CI). Only qdeploy reads it: children never inherit it. */
export const AGE_KEY_VAR = "QDEPLOY_AGE_KEY";

/**
 * The environment for a child process (secrets.command, the editor, go build): `environ`
 * without QDEPLOY_AGE_KEY and without undefined entries. With `anyAgeKey`, also without any
 * variable whose value holds an age secret key (SOPS_AGE_KEY, ...): go build needs none,
 * while a secrets.command such as sops may need its own.
 */
export function childEnviron(environ: Record<string, string | undefined>, opts: { anyAgeKey?: boolean } = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(environ)) {
    if (v === undefined || k === AGE_KEY_VAR) continue;
    if (opts.anyAgeKey && v.includes("AGE-SECRET-KEY-")) continue;
    env[k] = v;
  }
  return env;
}
