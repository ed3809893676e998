/**
 * Where an environment's secrets come from. Each store yields names and values; the
 * deploy puts them in the release's env files and nowhere else.
 */
import { envValueProblem } from "../render/env-value.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { ConfigError } from "../errors.ts";
import { ageFiles, ageStore } from "./age-store.ts";
import { commandStore } from "./command-store.ts";
import { secretNameProblem } from "./dotenv.ts";
import { envStore } from "./env-store.ts";
import { resolveIdentity } from "./identity.ts";

/** ResolvedConfig's `[secrets]`: the store plus its own keys. */
export type SecretsSettings = ResolvedConfig["secrets"];

/** A source of one environment's secrets. */
export interface SecretStore {
  readonly kind: SecretsSettings["store"];
  /** For messages: the file or source the values come from. */
  readonly where: string;
  /** Names and values; throws a QdeployError that never contains a value. */
  read(): Promise<Record<string, string>>;
}

/** What loadSecrets needs of the config; a ResolvedConfig fits. */
export interface SecretsTarget {
  root: string;
  env: string;
  secrets: SecretsSettings;
}

/** Options shared by the stores: `--identity FILE` and the environment to read (default process.env). */
export interface SecretsOptions {
  identityFile?: string;
  environ?: Record<string, string | undefined>;
  /** store = "command": how long the command may take (default: no limit; a terminal user can press Ctrl-C, a server cannot). */
  timeoutMs?: number;
}

/** The store `cfg.secrets` describes; age never creates an identity here (a deploy must not invent keys). */
export function openSecretStore(cfg: SecretsTarget, opts: SecretsOptions = {}): SecretStore {
  const environ = opts.environ ?? process.env;
  const s = cfg.secrets;
  switch (s.store) {
    case "age":
      return ageStore(ageFiles(cfg.root, cfg.env, s), () =>
        resolveIdentity({ identityFile: opts.identityFile, environ, create: false }),
      );
    case "env":
      return envStore(s.names ?? [], environ);
    case "command":
      return commandStore(s.command ?? [], cfg.root, environ, opts.timeoutMs);
    default:
      throw new ConfigError([
        { file: "deploy.toml", path: "secrets.store", message: 'must be "age", "env" or "command"' },
      ]);
  }
}

/** Reads one environment's secrets from its configured store; names and values are checked, values never appear in errors. */
export async function loadSecrets(
  cfg: SecretsTarget,
  opts: SecretsOptions = {},
): Promise<Record<string, string>> {
  const store = openSecretStore(cfg, opts);
  const values = await store.read();
  // The stores check names as they parse; this also covers any future store. A value is
  // checked as [env]'s are: what systemd takes from the env file (its words, never the value).
  const problems = Object.entries(values).flatMap(([name, value]) => {
    const p = secretNameProblem(name);
    if (p) return [{ file: store.where, path: "", message: p }];
    const v = envValueProblem(value);
    return v ? [{ file: store.where, path: name, message: v }] : [];
  });
  if (problems.length) throw new ConfigError(problems);
  return values;
}
