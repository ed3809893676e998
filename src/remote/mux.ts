/**
 * ssh.persist: a command's connection to a host is kept open for the next command, as
 * OpenSSH's ControlPersist does, so that one skips the TCP connect, the key exchange, the
 * login and the host's session setup (about 0.6 s of a push to a small VM). A command that
 * connected starts `qdeploy __ssh-mux` (./mux-daemon.ts) in the background as it closes its
 * connection; the daemon logs in on its own, and the next
 * command with the same settings finds its socket and opens its channels through it
 * (./mux-client.ts). Anything wrong with a kept connection (none, stale, a refused channel)
 * means a direct connection, as without it.
 *
 * The socket is in a folder only this user can open (the user's runtime dir, else the temp
 * dir), named by a hash of everything the connection was made with, the known_hosts file's
 * content included: a changed setting or host key record never reuses an older connection.
 * Who can open it can run commands on the host as the login, as who can read the key can.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { HostAddress } from "../config/types.ts";
import { expandPath } from "./identities.ts";
import type { MuxSpec } from "./mux-daemon.ts";
import { MuxClient } from "./mux-client.ts";
import type { SshTarget } from "./ssh-config.ts";

/** The private folder for the sockets, or why there is none (then nothing is kept). */
export function socketDir(base = process.env.XDG_RUNTIME_DIR || tmpdir()): { dir: string } | { problem: string } {
  const uid = process.getuid?.() ?? -1;
  const dir = path.join(base, `qdeploy-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch {}
  try {
    const st = lstatSync(dir);
    if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) return { problem: `${dir} is not a folder of this user's alone (0700)` };
  } catch (e) {
    return { problem: `cannot make ${dir}: ${(e as Error).message}` };
  }
  return { dir };
}

/** The socket of a connection made with these settings: their hash names it. */
export function socketPath(dir: string, spec: Omit<MuxSpec, "socket" | "persistSec">, target: SshTarget): string {
  const root = spec.opts.root ?? process.cwd();
  let knownHosts = "";
  try {
    knownHosts = readFileSync(expandPath(spec.ssh.knownHosts || "~/.ssh/known_hosts", root), "utf8");
  } catch {}
  const key = createHash("sha256").update(JSON.stringify({ ...spec, root, target, knownHosts })).digest("hex").slice(0, 24);
  return path.join(dir, `ssh-${key}.sock`);
}

/** The connection kept at `socket`, or null (none there, or it does not answer: a stale socket is removed). */
export async function keptConnection(socket: string): Promise<MuxClient | null> {
  try {
    return await MuxClient.connect(socket);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ECONNREFUSED") {
      try {
        unlinkSync(socket);
      } catch {}
    }
    return null;
  }
}

/**
 * Starts the daemon that keeps a connection for the next command, detached: it outlives this
 * command, with only what it needs of the environment (the agent's socket, HOME, PATH). Called
 * as the command closes its own connection, so the two logins never compete.
 */
export function keepConnection(spec: MuxSpec): void {
  // One daemon starting per socket: commands in quick succession would each start one, and
  // each keep a login open on the host for ssh.persist. The daemon removes the mark once it
  // listens (or fails); a mark older than a login can take is stale.
  const starting = startingMark(spec.socket);
  try {
    writeFileSync(starting, String(process.pid), { flag: "wx" });
  } catch {
    try {
      if (Date.now() - statSync(starting).mtimeMs < STARTING_STALE_MS) return;
      writeFileSync(starting, String(process.pid));
    } catch {
      return;
    }
  }
  const env: Record<string, string> = { QDEPLOY_MUX_SPEC: JSON.stringify(spec) };
  for (const k of ["PATH", "HOME", "SSH_AUTH_SOCK", "XDG_RUNTIME_DIR", "TMPDIR"]) if (process.env[k]) env[k] = process.env[k]!;
  try {
    // From a checkout Bun runs src/cli.ts; a compiled qdeploy is its own entry.
    const cli = path.join(import.meta.dir, "..", "cli.ts");
    const argv = existsSync(cli) ? ["--no-env-file", cli, "__ssh-mux"] : ["__ssh-mux"];
    const child = spawn(process.execPath, argv, { detached: true, stdio: "ignore", env });
    child.on("error", () => {});
    child.unref();
  } catch {}
}

/** The mark that a daemon for `socket` is starting (./mux-daemon.ts removes it). */
export const startingMark = (socket: string) => `${socket}.starting`;

/** Longer than a daemon's login may take (its connect timeout is 20 s). */
const STARTING_STALE_MS = 30_000;
