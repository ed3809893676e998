/**
 * Which private keys connectSsh offers (./ssh.ts), and how it finds files named in
 * deploy.toml and ~/.ssh/config.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { utils as sshUtils } from "ssh2";
import { OperationError } from "../errors.ts";

/** A private key to offer, and the file it came from (named when the server refuses it). */
export interface Identity {
  file: string;
  key: Buffer;
}

/** $HOME as it is now (Bun's os.homedir() keeps the value from startup). */
export function home(): string {
  return process.env.HOME || homedir();
}

/** `~/x` and paths relative to root, made absolute. */
export function expandPath(p: string, root: string): string {
  if (p === "~") return home();
  if (p.startsWith("~/")) return resolve(home(), p.slice(2));
  return isAbsolute(p) ? p : resolve(root, p);
}

/**
 * The keys to offer: ssh.identity alone when set (an error if unusable); else, like
 * ssh(1), ~/.ssh/config's IdentityFile entries if it has any, else the default keys;
 * of those, the files that exist and are usable without a passphrase.
 */
export function loadIdentities(label: string, identity: string | undefined, configured: string[], root: string): Identity[] {
  if (identity) {
    const file = expandPath(identity, root);
    if (!existsSync(file)) throw new OperationError(`${label}: ssh.identity ${file} does not exist`);
    const key = readFileSync(file);
    const parsed = sshUtils.parseKey(key);
    if (parsed instanceof Error) {
      const hint = /passphrase|encrypted/i.test(parsed.message)
        ? "it is encrypted: load it into ssh-agent (ssh-add) and leave ssh.identity unset"
        : parsed.message;
      throw new OperationError(`${label}: cannot use ssh.identity ${file}: ${hint}`);
    }
    return [{ file, key }];
  }
  const files = configured.length
    ? [...new Set(configured.map((f) => expandPath(f, home())))]
    : ["id_ed25519", "id_ecdsa", "id_rsa"].map((n) => resolve(home(), ".ssh", n));
  return files
    .filter((f) => existsSync(f))
    .map((file) => ({ file, key: readFileSync(file) }))
    .filter((i) => !(sshUtils.parseKey(i.key) instanceof Error));
}
