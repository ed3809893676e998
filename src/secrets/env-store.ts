/**
 * store = "env": the names in secrets.names come from qdeploy's own environment,
 * typically a CI's secret variables.
 */
import { ConfigError, OperationError } from "../errors.ts";
import { secretNameProblem } from "./dotenv.ts";
import type { SecretStore } from "./store.ts";

/**
 * Reads `names` from `environ`. An empty value counts as missing: CI systems (GitHub
 * Actions among them) expand a secret that was never defined to "".
 */
export function envStore(names: string[], environ: Record<string, string | undefined>): SecretStore {
  return {
    kind: "env",
    where: "the environment (secrets.names)",
    async read() {
      const bad = names.flatMap((n, i) => {
        const p = secretNameProblem(n);
        return p ? [{ file: "deploy.toml", path: `secrets.names[${i}]`, message: p }] : [];
      });
      if (bad.length) throw new ConfigError(bad);
      const missing = names.filter((n) => !environ[n]);
      if (missing.length) {
        throw new OperationError(
          `secret${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (listed in secrets.names) ` +
            `${missing.length > 1 ? "are" : "is"} not set or empty in the environment: export ` +
            `${missing.length > 1 ? "them" : "it"} before running qdeploy, or add ${missing.length > 1 ? "them" : "it"} ` +
            `to your CI's secret variables`,
        );
      }
      return Object.fromEntries(names.map((n) => [n, environ[n]!]));
    },
  };
}
