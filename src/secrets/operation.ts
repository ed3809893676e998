/**
 * What the secrets operations (values.ts, edit.ts, recipients.ts) share: the terminal they are
 * given, how they reach deploy.toml, and the age store's files, identity and saving.
 * Names are reported, values never: not in output, not in errors.
 */
import { userInfo } from "node:os";
import type { ResolvedConfig } from "../config/types.ts";
import { OperationError, UsageError } from "../errors.ts";
import { ageFiles, appendRecipient, readRecipients, writeSecretsFile, type AgeFiles } from "./age-store.ts";
import { resolveIdentity, type AgeIdentity } from "./identity.ts";

/** The operation's terminal: standard input, output lines, message lines, and the environment. */
export interface SecretsIO {
  /** All of standard input (read for `set ENV KEY` with a bare KEY when stdin is not a terminal, and `import ENV -`). */
  stdin: () => Promise<string>;
  /**
   * Set when standard input is a terminal: shows the prompt and reads one line without echo.
   * `set ENV KEY` then asks for the value instead of reading stdin to its end.
   */
  promptHidden?: (prompt: string) => Promise<string>;
  /**
   * What `recipients add` and `remove` did, one line as each step is done (a key added, a file
   * re-encrypted); the other operations return their result instead.
   */
  out: (line: string) => void;
  /** Notes and warnings (an identity created, a recipients file created, ...). */
  err: (line: string) => void;
  /** VISUAL/EDITOR, QDEPLOY_AGE_KEY, XDG_CONFIG_HOME, HOME, and what env/command stores read. */
  environ: Record<string, string | undefined>;
}

/**
 * How the operations get deploy.toml: `load(env)` resolves one environment (the CLI passes
 * `(env) => loadConfigOrThrow(file, env)`), `environments` lists every environment it defines
 * (`recipients add` re-encrypts each one's file). A plain ResolvedConfig serves one environment.
 */
export type SecretsConfigSource =
  | ResolvedConfig
  | { load: (env: string) => Promise<ResolvedConfig>; environments: string[] };

/** What every operation takes besides its arguments. */
export interface SecretsOptions {
  /** --identity: the age identity file (else $QDEPLOY_AGE_KEY or the user's default). */
  identityFile?: string;
}

/** The source as a loader and a list of environments. */
export function configLoader(source: SecretsConfigSource): { load: (env: string) => Promise<ResolvedConfig>; environments: string[] } {
  if ("load" in source) return source;
  const load = async (env: string) => {
    if (env !== source.env) throw new UsageError(`this configuration is for environment "${source.env}", not "${env}"`);
    return source;
  };
  return { load, environments: [source.env] };
}

/** The environment's age files; any other store is an error for set/unset/edit/import. */
export async function ageFilesFor(source: SecretsConfigSource, env: string): Promise<AgeFiles> {
  const cfg = await configLoader(source).load(env);
  const store = cfg.secrets.store;
  if (store === "env") {
    throw new UsageError(
      `secrets for store "env" live in your environment, not in qdeploy: set them in your shell or your CI's secret variables (${env} reads secrets.names from there)`,
    );
  }
  if (store === "command") {
    throw new UsageError(
      `secrets for store "command" live wherever secrets.command reads them from, not in qdeploy: change them with that tool`,
    );
  }
  return ageFiles(cfg.root, env, cfg.secrets);
}

/** The user's identity, created on first use; says where and what the public key is. */
export async function identityFor(io: SecretsIO, opts: SecretsOptions): Promise<AgeIdentity> {
  const identity = await resolveIdentity({ identityFile: opts.identityFile, environ: io.environ, create: true });
  if (identity.created) {
    io.err(`created your age identity at ${identity.source} (private: keep it, back it up, never commit it)`);
    io.err(`your public key is ${identity.publicKey}`);
    io.err(`to read existing secrets, a teammate adds it with \`qdeploy secrets recipients add ${identity.publicKey}\``);
  }
  return identity;
}

/** Encrypts `values` to the recipients file's keys, creating that file with the user's key first. */
export async function saveSecrets(io: SecretsIO, env: string, files: AgeFiles, identity: AgeIdentity, values: Record<string, string>): Promise<void> {
  const shown = files.show(files.recipients);
  let recipients = await readRecipients(files.recipients, shown);
  if (!recipients) {
    await appendRecipient(files.recipients, identity.publicKey, ownerNote());
    io.err(`created ${shown} with your public key ${identity.publicKey}; commit it with the secrets`);
    recipients = [identity.publicKey];
  }
  if (recipients.length === 0) {
    throw new OperationError(`${shown} lists no public keys: add yours (${identity.publicKey}) with \`qdeploy secrets recipients add\``);
  }
  if (!recipients.includes(identity.publicKey)) {
    io.err(
      `warning: your key ${identity.publicKey} is not in ${shown}, so you will not be able to read ${env}'s ` +
        `secrets after this; a teammate can add it with \`qdeploy secrets recipients add\``,
    );
  }
  await writeSecretsFile(files.file, values, recipients);
}

/** The comment beside a key qdeploy adds to a recipients file: who, and when. */
export function ownerNote(): string {
  let who = "";
  try {
    who = userInfo().username;
  } catch {
    // no passwd entry (containers): the note is only a courtesy
  }
  return `${who ? `${who}, ` : ""}added ${new Date().toISOString().slice(0, 10)}`;
}
