/**
 * A release's env file, in systemd's EnvironmentFile= syntax (systemd.exec(5)).
 * Every value is double-quoted with `\` `"` `` ` `` `$` backslash-escaped; inside double
 * quotes systemd keeps everything else verbatim (spaces, `#`, `'`, newlines, CRs), so any
 * value arrives exactly. The same text is also valid POSIX sh (`set -a; . ./env`) with the
 * same meaning, because sh's double-quote rules are the ones systemd copies.
 */
import { envValueProblem } from "./env-value.ts";
import { ENV_VAR_PATTERN } from "../config/schema.ts";
import { invariant } from "../errors.ts";

const NAME = new RegExp(ENV_VAR_PATTERN);

/**
 * KEY="VALUE" lines sorted by key. Names and values were checked where they come from: [env]
 * by `check` (src/config/rules.ts envVarNames, envVarValues), secrets as their store is read
 * (src/secrets/store.ts); asserted still, as a name is what keeps a line from being two.
 */
export function renderEnvFile(vars: Record<string, string>): string {
  return Object.keys(vars)
    .sort()
    .map((key) => {
      const value = vars[key]!;
      invariant(NAME.test(key), `env: ${JSON.stringify(key)} is not a valid variable name (letters, digits and _, not starting with a digit)`);
      const problem = envValueProblem(value);
      invariant(problem === null, `env: ${key} ${problem}`);
      return `${key}="${value.replace(/[\\"`$]/g, (c) => `\\${c}`)}"\n`;
    })
    .join("");
}
