/**
 * store = "age": one file per environment in the repository (secrets/ENV.env.age), binary
 * age format, encrypted to every public key in secrets/recipients.txt. Both files work
 * with the standard CLI too: `age -d -i KEY secrets/prod.env.age`, `age -R secrets/recipients.txt`.
 */
import { Decrypter, Encrypter, armor } from "age-encryption";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { ConfigError, OperationError, type ConfigProblem } from "../errors.ts";
import { emptyValues, formatSecretsText, parseSecretsText } from "./dotenv.ts";
import type { AgeIdentity } from "./identity.ts";
import type { SecretStore, SecretsSettings } from "./store.ts";

/** Where one environment's age store lives. */
export interface AgeFiles {
  /** The encrypted file, absolute. */
  file: string;
  /** The recipients file, absolute. */
  recipients: string;
  /** True when deploy.toml names the file (secrets.file): then a missing file is an error, not "no secrets yet". */
  fileConfigured: boolean;
  /** Paths as the user sees them in messages: relative to the deploy.toml folder. */
  show(path: string): string;
}

/** The store's files for `env`: secrets.file / secrets.recipients, relative to root, or the defaults. */
export function ageFiles(root: string, env: string, secrets: SecretsSettings): AgeFiles {
  return {
    file: resolve(root, secrets.file ?? join("secrets", `${env}.env.age`)),
    recipients: resolve(root, secrets.recipients ?? join("secrets", "recipients.txt")),
    fileConfigured: secrets.file !== undefined,
    show: (p) => {
      const r = relative(root, p);
      return r && !r.startsWith("..") && !isAbsolute(r) ? r : p;
    },
  };
}

/** The age store as a SecretStore; the identity is asked for only when there is a file to decrypt. */
export function ageStore(files: AgeFiles, identity: () => Promise<AgeIdentity>): SecretStore {
  return {
    kind: "age",
    where: files.show(files.file),
    async read() {
      const values = await readSecretsFile(files.file, identity, files.show(files.file));
      if (values) return values;
      if (files.fileConfigured) {
        throw new OperationError(
          `${files.show(files.file)} (secrets.file) does not exist: fix the path in deploy.toml, ` +
            `or create it with \`qdeploy secrets set\``,
        );
      }
      return emptyValues(); // no `secrets set` yet for this environment: it has no secrets
    },
  };
}

/** The public keys in a recipients file (age's -R format: one per line, `#` comments), or null if it does not exist. */
export async function readRecipients(path: string, shown = path): Promise<string[] | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new OperationError(`cannot read ${shown}: ${(e as Error).message}`);
  }
  const keys: string[] = [];
  const problems: ConfigProblem[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const problem = recipientProblem(line);
    if (problem) problems.push({ file: shown, line: i + 1, path: "", message: problem });
    else keys.push(line);
  });
  if (problems.length) throw new ConfigError(problems);
  return keys;
}

/**
 * The keys of a recipients file with their notes: the `#` line right above a key (what
 * `recipients add` writes: who, when), or null. Null when the file does not exist.
 */
export async function readRecipientEntries(path: string, shown = path): Promise<{ key: string; comment: string | null }[] | null> {
  const keys = await readRecipients(path, shown); // validates
  if (!keys) return null;
  const lines = (await readFile(path, "utf8")).split("\n").map((l) => l.trim());
  return keys.map((key) => {
    const above = lines[lines.indexOf(key) - 1] ?? "";
    const note = above.startsWith("#") ? above.replace(/^#\s*/, "") : "";
    // The file's own header is not a note about one key.
    return { key, comment: note && !note.startsWith("Public keys (age1...)") && !note.startsWith("Add one with") ? note : null };
  });
}

/** Why `key` is not a usable recipient (age1... public key), or null. */
export function recipientProblem(key: string): string | null {
  if (!key.startsWith("age1")) {
    return key.startsWith("AGE-SECRET-KEY-")
      ? "this is a secret key; recipients are public keys (age1...): remove it from here and keep it private"
      : "not an age public key (age1...); ssh keys are not supported here";
  }
  try {
    new Encrypter().addRecipient(key);
    return null;
  } catch {
    return "not a valid age public key (age1...): check it was copied whole";
  }
}

/** Appends a public key to a recipients file, creating the file (and its folder) when missing. */
export async function appendRecipient(path: string, key: string, note?: string): Promise<void> {
  let text = "";
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    text =
      "# Public keys (age1...) that qdeploy encrypts this repository's secrets to, one per line.\n" +
      "# Add one with `qdeploy secrets recipients add age1...` (it re-encrypts the secrets).\n";
  }
  if (text && !text.endsWith("\n")) text += "\n";
  if (note) text += `# ${note}\n`;
  text += `${key}\n`;
  await mkdir(dirname(path), { recursive: true });
  await atomicWrite(path, text);
}

/** Removes the lines holding these keys from a recipients file (comments stay); returns the keys it found. */
export async function removeRecipientLines(path: string, keys: string[]): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const found = new Set<string>();
  const kept = text.split("\n").filter((line) => {
    const key = line.trim();
    if (!keys.includes(key)) return true;
    found.add(key);
    return false;
  });
  if (found.size) await atomicWrite(path, kept.join("\n"));
  return keys.filter((k) => found.has(k));
}

/** Encrypts names and values (as dotenv text, see formatSecretsText) to the recipients, in age's binary format. */
export async function encryptSecrets(values: Record<string, string>, recipients: string[]): Promise<Uint8Array> {
  if (recipients.length === 0) throw new OperationError("no recipients to encrypt the secrets to");
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return e.encrypt(formatSecretsText(values));
}

/** Decrypts an age file (binary or armored) with the identity; each failure is one clear message about `shown`. */
export async function decryptSecrets(
  bytes: Uint8Array,
  identity: AgeIdentity,
  shown: string,
): Promise<Record<string, string>> {
  const corrupted = (why: string) =>
    new OperationError(
      `${shown} is corrupted (${why}): restore it from git (\`git checkout -- ${shown}\`) ` +
        `or ask a teammate who can read it to re-create it`,
    );
  let data = bytes;
  const head = new TextDecoder().decode(bytes.subarray(0, 40));
  if (head.startsWith("-----BEGIN AGE ENCRYPTED FILE-----")) {
    try {
      data = armor.decode(new TextDecoder().decode(bytes));
    } catch {
      throw corrupted("bad ASCII armor");
    }
  } else if (!head.startsWith("age-encryption.org/")) {
    throw corrupted("not an age file");
  }
  const d = new Decrypter();
  for (const id of identity.identities) d.addIdentity(id);
  let text: string;
  try {
    text = await d.decrypt(data, "text");
  } catch (e) {
    if ((e as Error).message === "no identity matched any of the file's recipients") {
      throw new OperationError(
        `${shown} is not encrypted to your age key ${identity.publicKey} (from ${identity.source}). ` +
          `A teammate who can read it must run \`qdeploy secrets recipients add ${identity.publicKey}\`.`,
      );
    }
    throw corrupted("it does not decrypt");
  }
  const { values, problems } = parseSecretsText(text);
  if (problems.length) {
    throw new ConfigError(problems.map((p) => ({ file: shown, line: p.line, path: "", message: p.message.replace(/^line \d+: /, "") })));
  }
  return values;
}

/** Reads and decrypts a secrets file; null when it does not exist (the identity is then never asked for). */
export async function readSecretsFile(
  path: string,
  identity: () => Promise<AgeIdentity>,
  shown: string,
): Promise<Record<string, string> | null> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new OperationError(`cannot read ${shown}: ${(e as Error).message}`);
  }
  return decryptSecrets(bytes, await identity(), shown);
}

/** Encrypts and writes a secrets file atomically (temp file + rename), creating its folder. */
export async function writeSecretsFile(path: string, values: Record<string, string>, recipients: string[]): Promise<void> {
  const bytes = await encryptSecrets(values, recipients);
  await mkdir(dirname(path), { recursive: true });
  await atomicWrite(path, bytes);
}

async function atomicWrite(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    await writeFile(tmp, data, { mode: 0o644 });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
