/**
 * `qdeploy setup ENV --bootstrap`: once, from a root login (or any login with sudo, like a
 * cloud image's `admin`/`ubuntu`), make each host's deploy user: the user deploy.toml or
 * ~/.ssh/config logs in as, with your public key and passwordless sudo. Then setup goes on
 * as that user (./setup.ts).
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
import type { OpContext } from "./context.ts";
import { withConnections } from "./sessions.ts";

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

/** What bootstrap did on one host: the user it made (or found), or why there was none to make. */
export interface BootstrappedHost {
  host: string;
  /** The deploy user: the one the host is logged in to without --bootstrap. */
  user: string;
  /** The host's own lines (created user, keys added, sudoers written), or the reason it was skipped. */
  lines: string[];
}

/** Creates every host's deploy user, logged in as opts.user; reports each host's lines as it goes. */
export async function bootstrap(op: OpContext, opts: BootstrapOptions): Promise<BootstrappedHost[]> {
  if (!op.connectAs) throw new OperationError("setup --bootstrap logs in as another user, which this qdeploy cannot do here");
  const cfg = op.cfg;
  return withConnections(cfg.hosts, op.connectAs(opts.user), (connections) =>
    Promise.all(
      connections.map(async ({ host, remote }) => {
        // Who the host is logged in to as usual: the user to create, and the keys it offers.
        const target = resolveTarget(host, cfg.ssh);
        const lines =
          target.user === "root" || target.user === opts.user
            ? [`logs in as ${target.user}: no user to bootstrap`]
            : await bootstrapLoginUser(remote, target.user, publicKeysFor(cfg, opts.keyFile, target.identityFiles));
        for (const line of lines) op.events({ type: "host", host: remote.label, line });
        return { host: host.label, user: target.user, lines };
      }),
    ),
  );
}
