/**
 * The real Remote on one ssh2 connection (opened by ./ssh.ts): each exec, write, upload
 * and terminal session is a channel on it, at most MAX_CHANNELS at once. Files travel
 * through ./transfer.ts, terminals through ./pty.ts; this keeps the connection's life
 * (lost, closed) and the channel that runs a command and collects its output.
 */
import type { ClientChannel, PseudoTtyOptions } from "ssh2";
import { OperationError, RemoteError } from "../errors.ts";
import { quoteArgv } from "../util/quote.ts";
import { ChannelLimiter } from "./channel-limiter.ts";
import { runShell } from "./pty.ts";
import type { ExecOptions, ExecResult, Remote, ShellOptions, UploadOptions, UploadResult } from "./remote.ts";
import { privilegedArgv, sudoRefusal } from "./sudo.ts";
import { uploadFile, writeFile } from "./transfer.ts";

const STDERR_KEPT = 64 * 1024;

/** How a command's channel ended, and what it printed. */
export interface ChannelOutcome {
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

/** What run() takes of ExecOptions: output as it arrives, and the abort. */
type RunOptions = Pick<ExecOptions, "onStdout" | "onStderr" | "signal">;

/** Writes a channel's stdin; isClosed() is true once the channel has ended. */
type ChannelFeed = (ch: ClientChannel, isClosed: () => boolean) => void | Promise<void>;

type Opened = (err: Error | undefined, ch: ClientChannel) => void;

/** What is used of a connection: ssh2's Client, or a connection kept by an earlier command (./mux-client.ts). */
export interface Connection {
  exec(command: string, cb: Opened): unknown;
  exec(command: string, opts: { pty: PseudoTtyOptions }, cb: Opened): unknown;
  on(event: "error", listener: (err: Error) => void): unknown;
  on(event: "close", listener: () => void): unknown;
  once(event: "close", listener: () => void): unknown;
  end(): unknown;
  destroy(): unknown;
}

/** What ./transfer.ts and ./pty.ts use of the connection. */
export interface SshSession {
  readonly label: string;
  readonly client: Connection;
  readonly channels: ChannelLimiter;
  /** Why the connection is gone (`connection lost (...)`, `connection closed`); undefined while it is up. */
  readonly lostReason: string | undefined;
  /** close() was called: a channel ending now is no loss. */
  readonly closing: boolean;
  /** Called when the connection closes, so a channel in use can fail at once. */
  readonly onLost: Set<() => void>;
  commandLine(argv: string[]): string;
  run(command: string, shown: string, opts: RunOptions, feed: ChannelFeed): Promise<ChannelOutcome>;
}

/** A Remote on an open connection (and its jump host's, closed with it). */
export class SshRemote implements Remote, SshSession {
  closing = false;
  lostReason: string | undefined;
  private lastError: Error | undefined;
  readonly onLost = new Set<() => void>();
  readonly channels = new ChannelLimiter();

  constructor(
    readonly label: string,
    /** Who logged in: anyone but root runs every command through `sudo -n` (./sudo.ts). */
    private readonly loginUser: string,
    readonly client: Connection,
    private readonly jump?: Connection,
    private readonly env?: string,
    /** Runs once close() has closed the connection (ssh.persist starts its daemon then, ./mux.ts). */
    private readonly afterClose?: () => void,
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
  commandLine(argv: string[]): string {
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

  write(path: string, content: string | Uint8Array, mode: number): Promise<void> {
    return writeFile(this, path, content, mode);
  }

  upload(localPath: string, remotePath: string, opts: UploadOptions): Promise<UploadResult> {
    return uploadFile(this, localPath, remotePath, opts);
  }

  shell(argv: string[], opts: ShellOptions): Promise<number> {
    return runShell(this, argv, opts);
  }

  isOpen(): boolean {
    return !this.closing && this.lostReason === undefined;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.lostReason) return;
    await this.end();
    this.afterClose?.();
  }

  private async end(): Promise<void> {
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
  async run(command: string, shown: string, opts: RunOptions, feed: ChannelFeed): Promise<ChannelOutcome> {
    if (!(await this.channels.acquire(opts.signal))) throw new RemoteError(this.label, `${shown} aborted`);
    try {
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
      this.channels.release();
    }
  }
}
