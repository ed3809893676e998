/**
 * Whose age key decrypts the secrets: `--identity FILE`, else QDEPLOY_AGE_KEY (the
 * AGE-SECRET-KEY-1... text itself, or a whole age-keygen file pasted into a CI secret),
 * else the per-user default, which the `secrets` commands create on first use.
 */
import { generateIdentity, identityToRecipient } from "age-encryption";
import { mkdir, open, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { OperationError } from "../errors.ts";
import { AGE_KEY_VAR } from "../util/child-env.ts";
import { configDir } from "../util/dirs.ts";

/** A usable age identity and where it came from. */
export interface AgeIdentity {
  /** AGE-SECRET-KEY-1... strings (a file may hold several); never print these. */
  identities: string[];
  /** The public key (age1...) of the first identity: what a teammate adds as a recipient. */
  publicKey: string;
  /** For messages: "QDEPLOY_AGE_KEY" or the file's path. */
  source: string;
  /** True when this call generated the default identity file. */
  created: boolean;
}

type Environ = Record<string, string | undefined>;

/** `age-identity.txt` in qdeploy's config folder (src/util/dirs.ts: `${XDG_CONFIG_HOME:-~/.config}/qdeploy` on Linux). */
export function defaultIdentityPath(environ: Environ): string {
  return join(configDir(environ), "age-identity.txt");
}

/**
 * Finds the identity to use. With `create`, a missing default file is generated (dir 0700,
 * file 0600); without it, no identity at all is an OperationError saying how to get one.
 */
export async function resolveIdentity(opts: {
  identityFile?: string;
  environ: Environ;
  create: boolean;
}): Promise<AgeIdentity> {
  if (opts.identityFile) {
    const text = await readFile(opts.identityFile, "utf8").catch((e: NodeJS.ErrnoException) => {
      throw new OperationError(`cannot read the age identity ${opts.identityFile} (--identity): ${e.code ?? e.message}`);
    });
    return fromText(text, opts.identityFile, false);
  }
  const fromEnv = opts.environ[AGE_KEY_VAR];
  if (fromEnv && fromEnv.trim()) return fromText(fromEnv, "QDEPLOY_AGE_KEY", false);

  const path = defaultIdentityPath(opts.environ);
  try {
    return await fromText(await readFile(path, "utf8"), path, false);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  if (!opts.create) {
    throw new OperationError(
      `no age identity to decrypt secrets with: QDEPLOY_AGE_KEY is not set, no --identity FILE was given, ` +
        `and ${path} does not exist. In CI, set QDEPLOY_AGE_KEY to the CI's AGE-SECRET-KEY-1... key; ` +
        `on your machine, run \`qdeploy secrets list ENV\` to create your key, then ask a teammate to run ` +
        `\`qdeploy secrets recipients add\` with the public key it prints.`,
    );
  }
  return createDefault(path);
}

/** The AGE-SECRET-KEY-1... lines of an identity file (age-keygen's format: `#` comments, blank lines). */
export function parseIdentities(text: string, source: string): string[] {
  const found: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    if (!line.startsWith("AGE-SECRET-KEY-")) {
      // Never echo the line: it may be a key with a typo.
      throw new OperationError(`${source}: line ${i + 1} is not an age identity (AGE-SECRET-KEY-1...)`);
    }
    found.push(line);
  });
  if (found.length === 0) throw new OperationError(`${source}: no age identity (AGE-SECRET-KEY-1...) in it`);
  return found;
}

async function fromText(text: string, source: string, created: boolean): Promise<AgeIdentity> {
  const identities = parseIdentities(text, source);
  let publicKey: string;
  try {
    publicKey = await identityToRecipient(identities[0]!);
  } catch {
    throw new OperationError(`${source}: the age identity in it is malformed (expected AGE-SECRET-KEY-1...)`);
  }
  return { identities, publicKey, source, created };
}

async function createDefault(path: string): Promise<AgeIdentity> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const identity = await generateIdentity();
  const publicKey = await identityToRecipient(identity);
  const text = `# created: ${new Date().toISOString()}\n# public key: ${publicKey}\n${identity}\n`;
  let handle;
  try {
    // wx: never overwrite a key another process created a moment ago.
    handle = await open(path, "wx", 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return fromText(await readFile(path, "utf8"), path, false);
    throw new OperationError(`cannot create the age identity ${path}: ${(e as Error).message}`);
  }
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
  return { identities: [identity], publicKey, source: path, created: true };
}
