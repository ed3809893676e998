/**
 * Connecting: one ssh2 connection per host (optionally through a jump host), logged in
 * with ./identities.ts's keys, its host key judged by ./host-key-check.ts, a failure told
 * by ./connect-errors.ts. The connection is then the Remote in ./ssh-remote.ts, reused
 * for every call.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Readable } from "node:stream";
import { Client, type AnyAuthMethod, type ConnectConfig } from "ssh2";
import type { HostAddress, ResolvedConfig } from "../config/types.ts";
import { OperationError, RemoteError } from "../errors.ts";
import { describeConnectError } from "./connect-errors.ts";
import { hostKeyAlgorithms, hostKeyRefusal, type HostKeyPolicy } from "./host-key-check.ts";
import { expandPath, home, loadIdentities, type Identity } from "./identities.ts";
import { lookupHostKey, readKnownHosts } from "./known-hosts.ts";
import type { Remote } from "./remote.ts";
import { resolveSshTarget, type SshEndpoint, type SshTarget } from "./ssh-config.ts";
import type { MuxSpec } from "./mux-daemon.ts";
import { keepConnection, keptConnection, socketDir, socketPath } from "./mux.ts";
import { SshRemote } from "./ssh-remote.ts";

/** How connectSsh finds relative paths, how long it waits, where it reports. */
export interface ConnectOptions {
  /** Folder that relative identity/known_hosts paths are taken from (deploy.toml's). */
  root?: string;
  /** Handshake + authentication deadline (default 20 s). */
  timeoutMs?: number;
  log?: (line: string) => void;
  /** The OpenSSH client config to honour (default ~/.ssh/config; a missing file is none). */
  sshConfigFile?: string;
  /** Log in as this user, whatever deploy.toml and ~/.ssh/config say (setup --bootstrap's root). */
  user?: string;
  /** The environment's name, for the advice in a sudo refusal. */
  env?: string;
  /** ssh.persist: keep the connection this many seconds for the next command (./mux.ts); 0 or absent: not. */
  persistSec?: number;
}

/** What connectSsh takes of [ssh]: ssh.persist is the caller's (ConnectOptions.persistSec). */
export type SshSettings = Omit<ResolvedConfig["ssh"], "persistSec">;

const KEEPALIVE_MS = 10_000;

/** The host resolved through deploy.toml and ~/.ssh/config (see ./ssh-config.ts). */
export function resolveTarget(host: HostAddress, ssh: SshSettings, opts: ConnectOptions = {}): SshTarget {
  const file = opts.sshConfigFile ?? resolve(home(), ".ssh", "config");
  let text: string | null = null;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new OperationError(`${host.label}: cannot read ${file}: ${(e as Error).message}`);
  }
  return resolveSshTarget(host, ssh, text, opts.user);
}

/** Connects to one host (through its jump host if any) and returns a Remote on that connection. */
export async function connectSsh(host: HostAddress, ssh: SshSettings, opts: ConnectOptions = {}): Promise<Remote> {
  const root = opts.root ?? process.cwd();
  const target = resolveTarget(host, ssh, opts);
  const ctx: Ctx = {
    knownHosts: expandPath(ssh.knownHosts || "~/.ssh/known_hosts", root),
    hostKey: ssh.hostKey ?? "strict",
    timeoutMs: opts.timeoutMs ?? 20_000,
    log: opts.log ?? (() => {}),
    identities: loadIdentities(host.label, ssh.identity, [...target.identityFiles, ...(target.jump?.identityFiles ?? [])], root),
    agent: process.env.SSH_AUTH_SOCK || undefined,
  };
  if (!ctx.identities.length && !ctx.agent) {
    throw new OperationError(
      `${host.label}: no SSH key to offer: set ssh.identity in deploy.toml or start ssh-agent (SSH_AUTH_SOCK is not set)`,
    );
  }
  // A connection an earlier command kept open (ssh.persist), else a direct one, kept after.
  const keep = opts.persistSec ? persistence(host, ssh, opts, target, ctx.log) : null;
  if (keep) {
    const kept = await keptConnection(keep.socket);
    if (kept) {
      ctx.log(`${host.label}: using the connection an earlier command kept open (ssh.persist)`);
      return new SshRemote(host.label, target.user, kept, undefined, opts.env);
    }
  }
  let jump: Client | undefined;
  let sock: Readable | undefined;
  if (target.jump) {
    const j = target.jump;
    jump = await openClient(j, ctx, host.label, `jump host ${j.label}: `);
    try {
      sock = await forwardTo(jump, target, j.label);
    } catch (e) {
      jump.end();
      throw e;
    }
  }
  try {
    const client = await openClient(target, ctx, host.label, target.jump ? `via jump host ${target.jump.label}: ` : "", sock);
    return new SshRemote(host.label, target.user, client, jump, opts.env, keep ? () => keepConnection(keep.spec) : undefined);
  } catch (e) {
    jump?.end();
    throw e;
  }
}

/** Where a kept connection for these settings would be, and what its daemon needs; null when none can be kept. */
function persistence(host: HostAddress, ssh: SshSettings, opts: ConnectOptions, target: SshTarget, log: (line: string) => void): { socket: string; spec: MuxSpec } | null {
  const where = socketDir();
  if ("problem" in where) {
    log(`${host.label}: ssh.persist: ${where.problem}; not kept`);
    return null;
  }
  const made: Omit<MuxSpec, "socket" | "persistSec"> = { host, ssh, opts: { root: opts.root ?? process.cwd(), env: opts.env, user: opts.user, sshConfigFile: opts.sshConfigFile } };
  const socket = socketPath(where.dir, made, target);
  return { socket, spec: { ...made, socket, persistSec: opts.persistSec! } };
}

/** What openClient needs for the host and its jump host alike. */
interface Ctx extends HostKeyPolicy {
  timeoutMs: number;
  log: (line: string) => void;
  identities: Identity[];
  agent?: string;
}

/** A tunnel through the jump host to the target's SSH port. */
function forwardTo(jump: Client, target: SshEndpoint, jumpLabel: string): Promise<Readable> {
  return new Promise((res, rej) => {
    jump.forwardOut("127.0.0.1", 0, target.host, target.port, (err, stream) => {
      if (err) {
        const why = err.message.replace(/^\(SSH\) Channel open failure: /, "");
        rej(new RemoteError(target.label, `jump host ${jumpLabel} cannot reach ${target.host} port ${target.port}: ${why}`));
      } else res(stream);
    });
  });
}

/** One logged-in ssh2 connection to addr (over sock: through a jump host), or a RemoteError that says why not. */
function openClient(addr: SshEndpoint, ctx: Ctx, label: string, prefix: string, sock?: Readable): Promise<Client> {
  const entries = readKnownHosts(ctx.knownHosts);
  let hostKeyProblem: string | undefined;

  const hostVerifier = (key: Buffer): boolean => {
    const problem = hostKeyRefusal(key, entries, addr, ctx, label, prefix);
    if (problem) hostKeyProblem = problem;
    return !problem;
  };

  // Offer each key, then the agent; remember what was tried for the refusal message.
  const methods: AnyAuthMethod[] = [
    ...ctx.identities.map((i): AnyAuthMethod => ({ type: "publickey", username: addr.user, key: i.key })),
    ...(ctx.agent ? [{ type: "agent", username: addr.user, agent: ctx.agent } as AnyAuthMethod] : []),
  ];
  const tried: string[] = [];
  let agentProblem = "";
  let next = 0;

  const config: ConnectConfig = {
    host: addr.host,
    port: addr.port,
    username: addr.user,
    sock,
    readyTimeout: ctx.timeoutMs,
    keepaliveInterval: KEEPALIVE_MS,
    keepaliveCountMax: 3,
    hostVerifier,
    authHandler: (_left, _partial, cb) => {
      const m = methods[next];
      if (!m) return cb(false as never);
      tried.push(m.type === "agent" ? "the SSH agent's keys" : `the key ${ctx.identities[next]!.file}`);
      next++;
      cb(m);
    },
  };
  const algos = hostKeyAlgorithms([...new Set(lookupHostKey(entries, addr.host, addr.port).matches.map((e) => e.keyType))]);
  if (algos) config.algorithms = { serverHostKey: algos as never };

  const where = `${addr.host} port ${addr.port}`;
  const started = Date.now();
  return new Promise((res, rej) => {
    const client = new Client();
    let tcpConnected = !!sock;
    let handshaken = false;
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      client.end();
      client.destroy?.();
      rej(new RemoteError(label, prefix + message));
    };
    client.on("connect", () => (tcpConnected = true));
    client.on("handshake", () => (handshaken = true));
    client.on("ready", () => {
      if (settled) return;
      settled = true;
      ctx.log(`${label}: ${prefix}connected to ${addr.user}@${where} in ${Date.now() - started} ms`);
      res(client);
    });
    client.on("error", (err: Error & { level?: string; code?: string | number }) => {
      if (settled) return;
      if (err.level === "agent") {
        agentProblem = ` (the agent at ${ctx.agent} failed: ${err.message})`;
        return; // ssh2 goes on with the next method
      }
      if (err.level === "client-authentication" && !/All configured/.test(err.message)) return;
      if (hostKeyProblem) return fail(hostKeyProblem);
      fail(describeConnectError(err, { addr, where, tcpConnected, handshaken, tried, agentProblem, timeoutMs: ctx.timeoutMs }));
    });
    client.on("close", () => {
      if (!settled) fail(hostKeyProblem ?? `connection to ${where} closed before it was ready`);
    });
    try {
      client.connect(config);
    } catch (e) {
      fail((e as Error).message);
    }
  });
}
