/**
 * `qdeploy setup ENV --bootstrap`: once, from a root login (or any login with sudo, like a
 * cloud image's `admin`/`ubuntu`), make each host's deploy user: the user deploy.toml or
 * ~/.ssh/config logs in as, with your public key and passwordless sudo. Then setup goes on
 * as that user.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { homedir } from "node:os";
import { utils as sshUtils } from "ssh2";
import type { ResolvedConfig } from "../config/types.ts";
import { OperationError } from "../errors.ts";
import { bootstrapLoginUser } from "../remote/host-ops.ts";
import { expandPath } from "../remote/identities.ts";
import { resolveTarget } from "../remote/ssh.ts";
import { type Ctx, withRemotes } from "./context.ts";

export interface BootstrapOptions {
  /** Who logs in to create the deploy user (default root). */
  user: string;
  /** A public key file (or a private key, whose public half is taken) to authorize. */
  keyFile?: string;
}

/** The `type base64` line of a public or private key file; null when it is neither. */
export function publicKeyLine(text: string): string | null {
  const parsed = sshUtils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) return null;
  return `${key.type} ${key.getPublicSSH().toString("base64")}`;
}

/**
 * The public keys to authorize: --key's; else the key qdeploy logs in with: ssh.identity,
 * else ~/.ssh/config's IdentityFile, else the default ~/.ssh/id_* (the .pub beside a
 * private key, or its public half when there is no .pub).
 */
export function publicKeysFor(cfg: ResolvedConfig, keyFile: string | undefined, configured: string[]): string[] {
  const home = process.env.HOME || homedir();
  const read = (file: string): string | null => {
    for (const f of [file.endsWith(".pub") ? file : `${file}.pub`, file]) {
      if (!existsSync(f)) continue;
      const line = publicKeyLine(readFileSync(f, "utf8"));
      if (line) return line;
    }
    return null;
  };
  if (keyFile) {
    const file = expandPath(keyFile, process.cwd());
    const line = existsSync(file) ? read(file) : null;
    if (!line) throw new OperationError(`--key ${file}: not an SSH public or private key file`);
    return [line];
  }
  const candidates = cfg.ssh.identity
    ? [expandPath(cfg.ssh.identity, cfg.root)]
    : configured.length
      ? configured.map((f) => expandPath(f, home))
      : ["id_ed25519", "id_ecdsa", "id_rsa"].map((n) => resolve(home, ".ssh", n));
  for (const c of candidates) {
    const line = read(c);
    if (line) return [line];
  }
  throw new OperationError(`no public key to authorize (looked for ${candidates.map((c) => `${c}.pub`).join(", ")}); pass --key FILE.pub`);
}

/** Creates every host's deploy user, logged in as opts.user; prints what each host did. */
export async function bootstrapHosts(ctx: Ctx, cfg: ResolvedConfig, opts: BootstrapOptions): Promise<void> {
  const targets = cfg.hosts.map((h) => resolveTarget(h, cfg.ssh));
  await withRemotes(
    cfg,
    ctx,
    (remotes) =>
      Promise.all(
        remotes.map(async (remote, i) => {
          const user = targets[i]!.user;
          if (user === "root" || user === opts.user) {
            ctx.out.host(remote.label, `logs in as ${user}: no user to bootstrap`);
            return;
          }
          const keys = publicKeysFor(cfg, opts.keyFile, targets[i]!.identityFiles);
          for (const line of await bootstrapLoginUser(remote, user, keys)) ctx.out.host(remote.label, line);
        }),
      ),
    { user: opts.user },
  );
}
