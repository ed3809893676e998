/**
 * The real Remote: one ssh2 connection per host (optionally through a jump host),
 * reused for every call; each exec/write/upload is a channel on it.
 */
import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { constants as osConstants, homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import type { Readable } from "node:stream";
import * as zlib from "node:zlib";
import { Client, utils as sshUtils, type AnyAuthMethod, type ClientChannel, type ConnectConfig } from "ssh2";
import type { HostAddress, ResolvedConfig } from "../config/types.ts";
import { OperationError, RemoteError } from "../errors.ts";
import { quoteArgv } from "../util/quote.ts";
import {
  appendKnownHost,
  blobKeyType,
  checkHostKey,
  fingerprint,
  knownHostName,
  lookupHostKey,
  readKnownHosts,
} from "./known-hosts.ts";
import type { ExecOptions, ExecResult, Remote, ShellOptions, UploadOptions } from "./remote.ts";
import { resolveSshTarget, type SshEndpoint, type SshTarget } from "./ssh-config.ts";
import { privilegedArgv, sudoRefusal } from "./sudo.ts";

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
}

type SshSettings = ResolvedConfig["ssh"];

const KEEPALIVE_MS = 10_000;
/** sshd's MaxSessions defaults to 10 channels per connection; stay below it (more wait for one to close). */
export const MAX_CHANNELS = 8;

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
    return new SshRemote(host.label, target.user, client, jump, opts.env);
  } catch (e) {
    jump?.end();
    throw e;
  }
}

/** Connects to every host in parallel; if any fails, closes the others and rethrows the first failure. */
export async function openRemotes(hosts: HostAddress[], ssh: SshSettings, opts: ConnectOptions = {}): Promise<Remote[]> {
  const settled = await Promise.allSettled(hosts.map((h) => connectSsh(h, ssh, opts)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  const ok = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  if (failed) {
    await Promise.allSettled(ok.map((r) => r.close()));
    throw failed.reason;
  }
  return ok;
}

interface Identity {
  file: string;
  key: Buffer;
}

interface Ctx {
  knownHosts: string;
  hostKey: "strict" | "accept-new";
  timeoutMs: number;
  log: (line: string) => void;
  identities: Identity[];
  agent?: string;
}

/** $HOME as it is now (Bun's os.homedir() keeps the value from startup). */
function home(): string {
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
function loadIdentities(label: string, identity: string | undefined, configured: string[], root: string): Identity[] {
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

/** Host-key-type algorithms to offer first, so a server with several keys presents the one we know. */
function hostKeyAlgorithms(knownTypes: string[]): string[] | undefined {
  const all = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
  ];
  if (!knownTypes.length) return undefined;
  const first = all.filter((a) => knownTypes.includes(a.startsWith("rsa-sha2") ? "ssh-rsa" : a));
  return [...first, ...all.filter((a) => !first.includes(a))];
}

function openClient(addr: SshEndpoint, ctx: Ctx, label: string, prefix: string, sock?: Readable): Promise<Client> {
  const entries = readKnownHosts(ctx.knownHosts);
  const hkName = knownHostName(addr.host, addr.port);
  let hostKeyProblem: string | undefined;

  const hostVerifier = (key: Buffer): boolean => {
    const fp = fingerprint(key);
    const status = checkHostKey(entries, addr.host, addr.port, key);
    if (status === "ok") return true;
    if (status === "revoked") {
      hostKeyProblem = `host key for ${hkName} (${fp}) is marked @revoked in ${ctx.knownHosts}; refusing to connect`;
      return false;
    }
    if (status === "mismatch") {
      const expected = lookupHostKey(entries, addr.host, addr.port)
        .matches.map((e) => `${fingerprint(e.key)} (${e.keyType}, ${ctx.knownHosts}:${e.line})`)
        .join(", ");
      hostKeyProblem =
        `host key for ${hkName} has CHANGED: the server presented ${fp} (${blobKeyType(key)}) but ${ctx.knownHosts} expects ${expected}; ` +
        `if the server was rebuilt, remove the old entry (ssh-keygen -R '${hkName}' -f ${ctx.knownHosts}), otherwise someone may be intercepting the connection`;
      return false;
    }
    if (ctx.hostKey === "accept-new") {
      try {
        appendKnownHost(ctx.knownHosts, addr.host, addr.port, blobKeyType(key), key);
      } catch (e) {
        hostKeyProblem = `cannot add the host key for ${hkName} to ${ctx.knownHosts}: ${(e as Error).message}`;
        return false;
      }
      ctx.log(`${label}: ${prefix}added host key ${fp} for ${hkName} to ${ctx.knownHosts} (accept-new)`);
      return true;
    }
    const keyscan = `ssh-keyscan${addr.port === 22 ? "" : ` -p ${addr.port}`} ${addr.host} >> ${ctx.knownHosts}`;
    hostKeyProblem =
      `host key for ${hkName} is not in ${ctx.knownHosts} (${fp}); add it with \`${keyscan}\` after checking the fingerprint, ` +
      `or set ssh.host_key = "accept-new"`;
    return false;
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

function describeConnectError(
  err: Error & { level?: string; code?: string | number },
  c: { addr: SshEndpoint; where: string; tcpConnected: boolean; handshaken: boolean; tried: string[]; agentProblem: string; timeoutMs: number },
): string {
  const check = `is the host up? is port ${c.addr.port} right?`;
  const what = c.tried.length ? c.tried.join(" and ") : "no key";
  if (err.level === "client-timeout") {
    if (c.handshaken) return `logging in as ${c.addr.user} with ${what} did not finish within ${c.timeoutMs / 1000} s${c.agentProblem}`;
    return c.tcpConnected
      ? `connected to ${c.where}, but the SSH handshake did not finish within ${c.timeoutMs / 1000} s; is it an SSH server?`
      : `cannot connect to ${c.where}: timed out after ${c.timeoutMs / 1000} s; ${check}`;
  }
  if (err.level === "client-authentication" || (c.handshaken && c.tried.length)) {
    // The latter: the server hung up mid-login (e.g. "Too many authentication failures").
    const extra = err.level === "client-authentication" ? "" : ` (${err.message})`;
    return `the server refused ${what} for user ${c.addr.user}${extra}${c.agentProblem}`;
  }
  switch (err.code) {
    case "ECONNREFUSED":
      return `cannot connect to ${c.where}: connection refused; ${check}`;
    case "ETIMEDOUT":
      return `cannot connect to ${c.where}: timed out; ${check}`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
    case "EAI_FAIL":
      return `cannot connect: DNS lookup of ${c.addr.host} failed (${err.code}); is the host name right?`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `cannot connect to ${c.where}: no route to host (${err.code}); ${check}`;
    case "ECONNRESET":
      return `connection to ${c.where} was reset${c.handshaken ? "" : " before the SSH handshake"}; ${check}`;
  }
  return `cannot connect to ${c.where}: ${err.message}`;
}

/** The script behind write(): temp file beside the target, byte count checked, then rename. */
const WRITE_SCRIPT = [
  "set -e",
  "umask 077",
  't=$(mktemp "$(dirname -- "$1")/.incoming-XXXXXX")',
  `trap 'rm -f -- "$t"' EXIT`,
  "trap 'exit 1' HUP INT TERM PIPE",
  'cat > "$t"',
  'n=$(wc -c < "$t")',
  // An EOF before the whole content (connection lost) must not replace the file.
  '[ "$n" -eq "$3" ] || { echo "received $n of $3 bytes; $1 left unchanged" >&2; exit 1; }',
  'chmod "$2" "$t"',
  'mv -f -- "$t" "$1"',
  "trap - EXIT",
].join("\n");

/**
 * The script behind upload(): decompress stdin into `.incoming-*` beside the target,
 * check the sha256, chmod, rename. A truncated stream fails the decompressor or the
 * sha check, so the rename never happens; setup may delete stale `.incoming-*` files.
 */
const UPLOAD_SCRIPT = [
  "set -e",
  "umask 077",
  't=$(mktemp "$(dirname -- "$1")/.incoming-XXXXXX")',
  `trap 'rm -f -- "$t"' EXIT`,
  "trap 'exit 1' HUP INT TERM PIPE",
  'case "$4" in',
  '  zstd) zstd -dcq > "$t" ;;',
  '  *) gzip -dc > "$t" ;;',
  "esac",
  'got=$(sha256sum < "$t" | cut -d" " -f1)',
  'if [ "$got" != "$2" ]; then echo "sha256 mismatch: got $got, expected $2" >&2; exit 3; fi',
  'chmod "$3" "$t"',
  'mv -f -- "$t" "$1"',
  "trap - EXIT",
].join("\n");

const SHA_MISMATCH_EXIT = 3;
/** Upload progress at most this often (~10/s). */
const PROGRESS_EVERY_MS = 100;
const STDERR_KEPT = 64 * 1024;

interface ChannelOutcome {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

class SshRemote implements Remote {
  private closing = false;
  private lostReason: string | undefined;
  private lastError: Error | undefined;
  private readonly onLost = new Set<() => void>();
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly label: string,
    /** Who logged in: anyone but root runs every command through `sudo -n` (./sudo.ts). */
    private readonly loginUser: string,
    private readonly client: Client,
    private readonly jump?: Client,
    private readonly env?: string,
  ) {
    client.on("error", (err) => (this.lastError = err));
    client.on("close", () => {
      if (!this.closing) {
        this.lostReason = this.lastError ? `connection lost (${this.lastError.message})` : "connection lost";
      } else this.lostReason = "connection closed";
      for (const f of [...this.onLost]) f();
      this.jump?.end();
    });
    jump?.on("error", (err) => (this.lastError = err));
    jump?.on("close", () => {
      if (!this.closing) this.client.destroy();
    });
  }

  /** The one command line for argv: quoted once, through sudo unless the login is root. */
  private commandLine(argv: string[]): string {
    return quoteArgv(privilegedArgv(this.loginUser, argv));
  }

  async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const command = this.commandLine(argv);
    const shown = `\`${command.length > 200 ? `${command.slice(0, 200)}…` : command}\``;
    const out = await this.run(command, shown, opts, (ch) => {
      if (opts.stdin !== undefined) ch.write(Buffer.from(opts.stdin));
      if (!opts.keepStdinOpen) ch.end();
    });
    if (out.code === null) {
      throw new RemoteError(this.label, `${shown} was killed by ${out.signal ?? "a signal"}`, { argv, code: null, stderr: out.stderr });
    }
    if (out.code !== 0 && opts.check !== false) {
      throw new RemoteError(this.label, `${shown} exited with ${out.code}`, { argv, code: out.code, stderr: out.stderr });
    }
    return { code: out.code, stdout: out.stdout, stderr: out.stderr };
  }

  async write(path: string, content: string | Uint8Array, mode: number): Promise<void> {
    const data = Buffer.from(content);
    const modeStr = `0${mode.toString(8)}`;
    // Only the path, the mode and the length are on the command line; the content is on stdin.
    const argv = ["sh", "-c", WRITE_SCRIPT, "sh", path, modeStr, String(data.length)];
    const shown = `writing ${path}`;
    const out = await this.run(this.commandLine(argv), shown, {}, (ch) => {
      ch.end(data);
    });
    if (out.code !== 0) {
      throw new RemoteError(this.label, `${shown} (mode ${modeStr}) failed${exitText(out)}`, {
        argv: ["write", path, modeStr],
        code: out.code,
        stderr: out.stderr,
      });
    }
  }

  async upload(localPath: string, remotePath: string, opts: UploadOptions): Promise<{ bytesSent: number }> {
    let total: number;
    try {
      const st = statSync(localPath);
      if (!st.isFile()) throw new Error("not a file");
      total = st.size;
    } catch (e) {
      throw new OperationError(`${this.label}: cannot upload ${localPath}: ${(e as Error).message}`);
    }
    const compression = opts.compression ?? "gzip";
    const modeStr = `0${(opts.mode ?? 0o755).toString(8)}`;
    const argv = ["sh", "-c", UPLOAD_SCRIPT, "sh", remotePath, opts.sha256.toLowerCase(), modeStr, compression];
    const shown = `uploading ${localPath} to ${remotePath}`;
    let bytesSent = 0;
    let localError: Error | undefined;
    const comp = compression === "zstd" ? createZstd() : zlib.createGzip();
    const src = createReadStream(localPath);
    src.on("error", (e) => comp.destroy(e));
    // Progress counts the file's bytes the compressor has taken: with the channel's
    // backpressure that is what is on the wire, give or take the compressor's buffer.
    let read = 0;
    let reported = -1;
    let lastReport = 0;
    const report = (final: boolean) => {
      if (!opts.onProgress) return;
      const now = performance.now();
      const sent = final ? total : Math.min(read, total - 1);
      if (sent <= reported || (!final && now - lastReport < PROGRESS_EVERY_MS)) return;
      reported = sent;
      lastReport = now;
      opts.onProgress(sent, total);
    };
    comp.on("error", () => {}); // read by the loop below, or dropped if the channel never opens
    const out = await this.run(this.commandLine(argv), shown, {}, async (ch, isClosed) => {
      src.pipe(comp);
      // After pipe: a "data" listener alone would start the flow before the compressor is attached.
      if (opts.onProgress) src.on("data", (chunk) => (read += chunk.length));
      try {
        for await (const chunk of comp as AsyncIterable<Buffer>) {
          if (isClosed()) break;
          const more = ch.write(chunk);
          bytesSent += chunk.length;
          report(false);
          if (!more) await drainOrClose(ch);
        }
      } catch (e) {
        localError = e as Error;
        src.destroy();
        ch.close(); // the host sees a truncated stream and installs nothing
        return;
      }
      if (!isClosed()) {
        report(true);
        ch.end();
      }
    }).finally(() => {
      src.destroy();
      comp.destroy();
    });
    if (localError) throw new OperationError(`${this.label}: cannot upload ${localPath}: ${localError.message}`);
    if (out.code === SHA_MISMATCH_EXIT) {
      const got = /got ([0-9a-f]+)/.exec(out.stderr)?.[1] ?? "?";
      throw new RemoteError(
        this.label,
        `${shown}: sha256 on the host is ${got}, expected ${opts.sha256}; nothing was installed at ${remotePath}`,
        { code: out.code },
      );
    }
    if (out.code !== 0) {
      throw new RemoteError(this.label, `${shown} failed${exitText(out)}; nothing was installed at ${remotePath}`, {
        code: out.code,
        stderr: out.stderr,
      });
    }
    return { bytesSent };
  }

  async shell(argv: string[], opts: ShellOptions): Promise<number> {
    const command = this.commandLine(argv);
    const shown = `\`${command.length > 200 ? `${command.slice(0, 200)}…` : command}\``;
    await this.acquire();
    try {
      if (this.lostReason) throw new RemoteError(this.label, `cannot run ${shown}: ${this.lostReason}`);
      const { term, rows, cols } = opts.pty;
      const ch = await new Promise<ClientChannel>((res, rej) => {
        this.client.exec(command, { pty: { term, rows, cols, width: 0, height: 0 } }, (err, ch) =>
          err ? rej(new RemoteError(this.label, `cannot start ${shown}: ${this.lostReason ?? err.message}`)) : res(ch),
        );
      });
      return await new Promise<number>((res, rej) => {
        let code: number | null | undefined;
        let signal: string | undefined;
        let done = false;
        const onInput = (b: Buffer | string) => {
          if (!done) ch.write(b);
        };
        const onEnd = () => {
          if (!done) ch.end();
        };
        const unsubscribe = opts.onResize?.((r, c) => {
          if (!done) ch.setWindow(r, c, 0, 0);
        });
        const finish = (f: () => void) => {
          if (done) return;
          done = true;
          opts.stdin.off("data", onInput);
          opts.stdin.off("end", onEnd);
          opts.stdin.pause(); // a paused stdin lets the process exit
          unsubscribe?.();
          this.onLost.delete(lost);
          f();
        };
        const lost = () => finish(() => rej(new RemoteError(this.label, `${this.lostReason ?? "connection lost"} while running ${shown.slice(1)}`)));
        this.onLost.add(lost);
        // Bytes, not text: a terminal's stream is copied as it is.
        ch.on("data", (b: Buffer) => opts.stdout.write(b));
        ch.stderr.on("data", (b: Buffer) => (opts.stderr ?? opts.stdout).write(b));
        ch.on("exit", (c: number | null, sig?: string) => {
          code = c;
          signal = sig;
        });
        ch.on("error", () => {}); // surfaces as close without exit status
        ch.on("close", () => {
          if (code === undefined) {
            if (this.lostReason && !this.closing) return lost();
            return finish(() => rej(new RemoteError(this.label, `${shown} ended without an exit status`)));
          }
          // ssh2 names it "SIGINT" (the wire says "INT"); an unknown name is still a failure.
          const signo = signal ? ((osConstants.signals as Record<string, number>)[signal.replace(/^(SIG)?/, "SIG")] ?? 0) : 0;
          finish(() => res(code ?? 128 + signo));
        });
        opts.stdin.on("data", onInput);
        opts.stdin.on("end", onEnd);
        opts.stdin.resume();
      });
    } finally {
      this.release();
    }
  }

  isOpen(): boolean {
    return !this.closing && this.lostReason === undefined;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.lostReason) return;
    await new Promise<void>((res) => {
      const timer = setTimeout(() => {
        this.client.destroy();
        res();
      }, 2000);
      this.client.once("close", () => {
        clearTimeout(timer);
        res();
      });
      this.client.end();
    });
    this.jump?.end();
  }

  /**
   * Opens one exec channel, lets `feed` write its stdin, collects output until the
   * channel closes. Rejects with a RemoteError if the connection drops or on abort.
   */
  private async run(
    command: string,
    shown: string,
    opts: Pick<ExecOptions, "onStdout" | "onStderr" | "signal">,
    feed: (ch: ClientChannel, isClosed: () => boolean) => void | Promise<void>,
  ): Promise<ChannelOutcome> {
    if (opts.signal?.aborted) throw new RemoteError(this.label, `${shown} aborted`);
    await this.acquire();
    try {
      // Aborted while it waited for a channel (a log stream's client left): never start it, or
      // a `journalctl -f` nobody reads would hold that channel for good.
      if (opts.signal?.aborted) throw new RemoteError(this.label, `${shown} aborted`);
      if (this.lostReason) throw new RemoteError(this.label, `cannot run ${shown}: ${this.lostReason}`);
      const ch = await new Promise<ClientChannel>((res, rej) => {
        this.client.exec(command, (err, ch) =>
          err ? rej(new RemoteError(this.label, `cannot start ${shown}: ${this.lostReason ?? err.message}`)) : res(ch),
        );
      });
      return await new Promise<ChannelOutcome>((res, rej) => {
        let closed = false;
        let aborted = false;
        let code: number | null | undefined;
        let signal: string | undefined;
        let stdout = "";
        let stderr = "";
        const outDec = new TextDecoder();
        const errDec = new TextDecoder();
        const finish = (f: () => void) => {
          if (closed) return;
          closed = true;
          this.onLost.delete(lost);
          opts.signal?.removeEventListener("abort", onAbort);
          f();
        };
        const lost = () =>
          finish(() => rej(new RemoteError(this.label, `${this.lostReason ?? "connection lost"} while ${shown.replace(/^`/, "running `")}`)));
        const onAbort = () => {
          aborted = true;
          try {
            ch.end(); // EOF first: a command holding stdin open (the deploy lock) sees it
            ch.signal("TERM");
          } catch {}
          ch.close();
          // sshd answers the close only when the command exits; do not wait for that.
          finish(() => rej(new RemoteError(this.label, `${shown} aborted`)));
        };
        this.onLost.add(lost);
        opts.signal?.addEventListener("abort", onAbort, { once: true });
        ch.on("data", (b: Buffer) => {
          const s = outDec.decode(b, { stream: true });
          // Streamed output is not also kept: `logs -f` may run for days.
          if (opts.onStdout) {
            if (s) opts.onStdout(s);
          } else stdout += s;
        });
        ch.stderr.on("data", (b: Buffer) => {
          const s = errDec.decode(b, { stream: true });
          stderr = (stderr + s).slice(-STDERR_KEPT); // enough for an error message's tail
          if (s) opts.onStderr?.(s);
        });
        ch.on("exit", (c: number | null, sig?: string) => {
          code = c;
          signal = sig;
        });
        ch.on("error", () => {}); // surfaces as close without exit status
        ch.on("close", () => {
          stdout += outDec.decode();
          stderr += errDec.decode();
          if (aborted) return finish(() => rej(new RemoteError(this.label, `${shown} aborted`)));
          if (code === undefined) {
            if (this.lostReason && !this.closing) return lost();
            return finish(() => rej(new RemoteError(this.label, `${shown} ended without an exit status`, { stderr })));
          }
          // sudo refusing (a password wanted, no sudo at all) is one clear message, whatever ran.
          const refused = this.loginUser === "root" ? null : sudoRefusal(this.loginUser, code, stderr, this.env);
          if (refused) return finish(() => rej(new OperationError(`${this.label}: ${refused}`)));
          finish(() => res({ code: code ?? null, signal, stdout, stderr }));
        });
        Promise.resolve(feed(ch, () => closed)).catch(() => ch.close());
      });
    } finally {
      this.release();
    }
  }

  private async acquire(): Promise<void> {
    if (this.active < MAX_CHANNELS) {
      this.active++;
      return;
    }
    await new Promise<void>((res) => this.waiting.push(res));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

/** Bun 1.4 (like Node 22.15+) has zstd streams; @types/node here does not declare them yet. */
function createZstd(): import("node:stream").Transform {
  const make = (zlib as unknown as { createZstdCompress?: () => import("node:stream").Transform }).createZstdCompress;
  if (!make) throw new OperationError("this runtime has no zstd compressor; use compression = \"gzip\"");
  return make();
}

function exitText(out: ChannelOutcome): string {
  return out.code === null ? ` (killed by ${out.signal ?? "a signal"})` : ` (exit ${out.code})`;
}

function drainOrClose(ch: ClientChannel): Promise<void> {
  return new Promise((res) => {
    const done = () => {
      ch.off("drain", done);
      ch.off("close", done);
      res();
    };
    ch.on("drain", done);
    ch.on("close", done);
  });
}
