/**
 * Who can decrypt the age store: `secrets recipients list`, `add` and `remove`. A change of
 * recipients re-encrypts every environment's file (and any other *.env.age beside the
 * recipients file); each step done is a line on io.out.
 */
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { OperationError, UsageError } from "../errors.ts";
import {
  ageFiles,
  appendRecipient,
  readRecipientEntries,
  readRecipients,
  readSecretsFile,
  recipientProblem,
  removeRecipientLines,
  writeSecretsFile,
  type AgeFiles,
} from "./age-store.ts";
import { resolveIdentity } from "./identity.ts";
import { configLoader, identityFor, ownerNote, type SecretsConfigSource, type SecretsIO, type SecretsOptions } from "./operation.ts";

/** Each recipients file's keys, with their comments, and which is the user's own. */
export interface RecipientsList {
  files: { file: string; exists: boolean; recipients: { key: string; comment: string | null; you: boolean }[] }[];
}

/** The keys in every recipients file the age-stored environments use (a file not there yet: noted on io.err). */
export async function listRecipients(io: SecretsIO, source: SecretsConfigSource, opts: SecretsOptions = {}): Promise<RecipientsList> {
  const { recipientFiles } = await ageEnvironments(source);
  const me = await resolveIdentity({ identityFile: opts.identityFile, environ: io.environ, create: false }).catch(() => null);
  const files: RecipientsList["files"] = [];
  for (const f of recipientFiles) {
    const shown = f.show(f.recipients);
    const entries = await readRecipientEntries(f.recipients, shown);
    if (!entries) io.err(`${shown} does not exist yet; the first \`qdeploy secrets set\` creates it`);
    files.push({ file: shown, exists: entries !== null, recipients: (entries ?? []).map((e) => ({ ...e, you: me?.publicKey === e.key })) });
  }
  return { files };
}

/**
 * Adds public keys to the recipients files (creating one with the user's key first) and
 * re-encrypts every file to them. Returns the files the user could not re-encrypt (their name
 * and why), which someone who can read them must add the keys to again.
 */
export async function addRecipients(io: SecretsIO, source: SecretsConfigSource, keys: string[], opts: SecretsOptions = {}): Promise<{ failed: string[] }> {
  checkKeys(keys, "add");
  const { envs, recipientFiles } = await ageEnvironments(source);
  const identity = await identityFor(io, opts);
  for (const files of recipientFiles) {
    const shown = files.show(files.recipients);
    const existing = await readRecipients(files.recipients, shown);
    if (!existing && !keys.includes(identity.publicKey)) {
      await appendRecipient(files.recipients, identity.publicKey, ownerNote());
      io.err(`created ${shown} with your public key ${identity.publicKey}; commit it`);
    }
    for (const k of keys) {
      if (existing?.includes(k)) io.err(`${k} is already in ${shown}`);
      else {
        await appendRecipient(files.recipients, k);
        io.out(`added ${k} to ${shown}`);
      }
    }
  }

  const failed: string[] = [];
  for (const [file, files] of await reencryptTargets(envs, recipientFiles)) {
    const shown = files.show(file);
    try {
      const values = await readSecretsFile(file, async () => identity, shown);
      if (!values) continue;
      await reencrypt(io, file, files, values);
    } catch (e) {
      failed.push(`${shown}: ${(e as Error).message}`);
    }
  }
  if (failed.length) {
    io.err(
      `could not re-encrypt ${failed.length} file${failed.length === 1 ? "" : "s"}; someone who can read ` +
        `${failed.length === 1 ? "it" : "them"} must run \`qdeploy secrets recipients add\` again:`,
    );
    for (const f of failed) io.err(`  ${f}`);
  }
  return { failed };
}

/**
 * Removes public keys, all or nothing. Every file is decrypted first (one that cannot be
 * would stay readable by the removed key), then the keys leave the recipients files and
 * every file is encrypted again to the keys that remain. A file keeps at least one recipient.
 */
export async function removeRecipients(io: SecretsIO, source: SecretsConfigSource, keys: string[], opts: SecretsOptions = {}): Promise<void> {
  checkKeys(keys, "remove");
  const { envs, recipientFiles } = await ageEnvironments(source);
  const identity = await identityFor(io, opts);
  const targets = await reencryptTargets(envs, recipientFiles);
  const listed = new Set<string>();
  for (const files of recipientFiles) {
    const shown = files.show(files.recipients);
    const existing = (await readRecipients(files.recipients, shown)) ?? [];
    for (const k of existing) listed.add(k);
    if (existing.length && existing.every((k) => keys.includes(k))) {
      throw new OperationError(
        `refusing to remove the last recipient of ${shown}: nobody could read the secrets afterwards; ` +
          `add the key that replaces it first (\`qdeploy secrets recipients add age1...\`), then remove this one`,
      );
    }
  }
  const unknown = keys.filter((k) => !listed.has(k));
  if (unknown.length) {
    const where = recipientFiles.map((f) => f.show(f.recipients)).join(", ");
    throw new UsageError(`qdeploy secrets recipients remove: ${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} not in ${where}`);
  }

  const plain = new Map<string, { files: AgeFiles; values: Record<string, string> }>();
  const unreadable: string[] = [];
  for (const [file, files] of targets) {
    try {
      const values = await readSecretsFile(file, async () => identity, files.show(file));
      if (values) plain.set(file, { files, values });
    } catch (e) {
      unreadable.push(`  ${files.show(file)}: ${(e as Error).message}`);
    }
  }
  if (unreadable.length) {
    throw new OperationError(
      `nothing was changed: the removed key could still read ${unreadable.length === 1 ? "this file" : "these files"}, ` +
        `which you cannot decrypt to encrypt again; someone who can read ${unreadable.length === 1 ? "it" : "them"} ` +
        `must run \`qdeploy secrets recipients remove\`:\n${unreadable.join("\n")}`,
    );
  }

  for (const files of recipientFiles) {
    const removed = await removeRecipientLines(files.recipients, keys);
    for (const k of removed) io.out(`removed ${k} from ${files.show(files.recipients)}`);
  }
  for (const [file, { files, values }] of plain) await reencrypt(io, file, files, values);
  if (keys.includes(identity.publicKey)) {
    io.err(`note: you removed your own key ${identity.publicKey}: you can no longer read these secrets`);
  }
  io.err(
    "the removed key cannot read the new files, but whoever holds it keeps every value it could read " +
      "(and the old files, in git history and clones): rotate those secrets, i.e. change each at its source " +
      "and run `qdeploy secrets set`, then push",
  );
}

/** Refuses anything that is not an age public key; a secret key pasted by mistake is not echoed back. */
function checkKeys(keys: string[], what: "add" | "remove"): void {
  for (const k of keys) {
    const p = recipientProblem(k);
    if (p) throw new UsageError(`qdeploy secrets recipients ${what}: ${k.startsWith("AGE-SECRET-KEY-") ? "that" : `"${k}"`}: ${p}`);
  }
}

/** Every environment stored with age, and the recipients files they use (usually one, shared). */
async function ageEnvironments(source: SecretsConfigSource): Promise<{ envs: { env: string; files: AgeFiles }[]; recipientFiles: AgeFiles[] }> {
  const { load, environments } = configLoader(source);
  const envs: { env: string; files: AgeFiles }[] = [];
  for (const env of environments) {
    const cfg = await load(env);
    if (cfg.secrets.store === "age") envs.push({ env, files: ageFiles(cfg.root, env, cfg.secrets) });
  }
  if (envs.length === 0) {
    throw new UsageError('no environment in deploy.toml uses store = "age": recipients are only for the age store');
  }
  return { envs, recipientFiles: [...new Map(envs.map((e) => [e.files.recipients, e.files])).values()] };
}

/** Every environment's file, and any other *.env.age beside a recipients file: what a change of recipients re-encrypts. */
async function reencryptTargets(envs: { files: AgeFiles }[], recipientFiles: AgeFiles[]): Promise<Map<string, AgeFiles>> {
  const targets = new Map<string, AgeFiles>();
  for (const e of envs) targets.set(e.files.file, e.files);
  for (const files of recipientFiles) {
    const dir = dirname(files.recipients);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names.filter((n) => n.endsWith(".env.age"))) {
      const file = join(dir, n);
      if (!targets.has(file)) targets.set(file, { ...files, file });
    }
  }
  return targets;
}

/** Encrypts `values` again to the keys now in the file's recipients file, and says so. */
async function reencrypt(io: SecretsIO, file: string, files: AgeFiles, values: Record<string, string>): Promise<void> {
  const recipients = (await readRecipients(files.recipients, files.show(files.recipients))) ?? [];
  await writeSecretsFile(file, values, recipients);
  io.out(`re-encrypted ${files.show(file)} to ${recipients.length} recipient${recipients.length === 1 ? "" : "s"}`);
}
