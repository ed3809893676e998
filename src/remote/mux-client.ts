/**
 * A command's side of a kept SSH connection (./mux-daemon.ts): the part of ssh2's Client
 * and ClientChannel that ./ssh-remote.ts, ./transfer.ts and ./pty.ts use, each channel one
 * Unix-socket connection to the daemon. The connection's own watch is one more: when it
 * closes, the kept connection is gone, as ssh2's "close".
 */
import { EventEmitter } from "node:events";
import net from "node:net";
import type { ClientChannel, PseudoTtyOptions } from "ssh2";
import { FrameReader, frame, type FrameType } from "./mux-frames.ts";

type Opened = (err: Error | undefined, ch: ClientChannel) => void;

/** Opens a Unix-socket connection to the daemon and says hello; resolves on its R (ready). */
function open(socket: string, hello: object, timeoutMs?: number): Promise<{ c: net.Socket; reader: FrameReader; rest: { type: FrameType; body: Buffer }[] }> {
  return new Promise((res, rej) => {
    const c = net.connect(socket);
    const reader = new FrameReader();
    const fail = (e: Error) => {
      clearTimeout(timer);
      c.destroy();
      rej(e);
    };
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => fail(new Error("the kept connection did not answer")), timeoutMs);
    c.once("error", fail);
    c.once("close", () => fail(new Error("the kept connection closed")));
    c.once("connect", () => c.write(frame("H", JSON.stringify(hello))));
    const onData = (chunk: Buffer) => {
      const frames = reader.push(chunk);
      if (!frames.length) return;
      clearTimeout(timer);
      c.off("data", onData);
      c.removeAllListeners("close");
      c.removeAllListeners("error");
      const [first, ...rest] = frames;
      if (first!.type === "R") res({ c, reader, rest });
      else {
        c.destroy();
        rej(new Error(first!.type === "F" || first!.type === "L" ? first!.body.toString() : "the kept connection refused the channel"));
      }
    };
    c.on("data", onData);
  });
}

/** One channel through the daemon, with what ssh2's ClientChannel offers that qdeploy uses. */
class MuxChannel extends EventEmitter {
  readonly stderr = new EventEmitter();
  private ended = false;

  /** `c` said R; `early` are the frames that came with it, `lost` hears an L. */
  constructor(
    private readonly c: net.Socket,
    reader: FrameReader,
    early: { type: FrameType; body: Buffer }[],
    lost: (reason: string) => void,
  ) {
    super();
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      this.emit("close");
    };
    const handle = ({ type, body }: { type: FrameType; body: Buffer }) => {
      if (type === "O") this.emit("data", body);
      else if (type === "E") this.stderr.emit("data", body);
      else if (type === "X") {
        const x = JSON.parse(body.toString());
        this.emit("exit", x.code, x.signal ?? undefined);
      } else if (type === "L") lost(body.toString());
      else if (type === "C") close();
    };
    // The frames that came with R wait until the caller has its listeners on (it gets the
    // channel in a callback and attaches them after an await), and what follows waits behind them.
    let queue: typeof early | null = early.length ? [...early] : null;
    c.on("data", (chunk: Buffer) => {
      const frames = reader.push(chunk);
      if (queue) queue.push(...frames);
      else frames.forEach(handle);
    });
    if (queue) {
      setImmediate(() => {
        const q = queue!;
        queue = null;
        q.forEach(handle);
      });
    }
    c.on("drain", () => this.emit("drain"));
    c.on("error", () => {});
    c.on("close", () => (queue ? setImmediate(close) : close()));
  }

  write(data: string | Uint8Array): boolean {
    return this.c.destroyed ? false : this.c.write(frame("I", data));
  }

  end(data?: string | Uint8Array): this {
    if (data !== undefined) this.write(data);
    if (!this.ended && !this.c.destroyed) this.c.write(frame("D"));
    this.ended = true;
    return this;
  }

  signal(name: string): void {
    if (!this.c.destroyed) this.c.write(frame("S", name));
  }

  setWindow(rows: number, cols: number): void {
    if (!this.c.destroyed) this.c.write(frame("W", JSON.stringify({ rows, cols })));
  }

  close(): void {
    if (!this.c.destroyed) this.c.end(frame("K"));
  }
}

/** The kept connection, as ./ssh-remote.ts uses ssh2's Client. */
export class MuxClient extends EventEmitter {
  private readonly channels = new Set<net.Socket>();
  private gone = false;

  private constructor(
    private readonly socket: string,
    private readonly watch: net.Socket,
  ) {
    super();
    watch.on("error", () => {});
    const reader = new FrameReader();
    watch.on("data", (chunk: Buffer) => {
      for (const f of reader.push(chunk)) if (f.type === "L") this.lose(f.body.toString());
    });
    watch.on("close", () => this.lose("the process keeping it exited"));
  }

  /** Connects to the daemon at `socket`; rejects when there is none or it does not answer. */
  static async connect(socket: string, timeoutMs = 2000): Promise<MuxClient> {
    const { c } = await open(socket, { watch: true }, timeoutMs);
    return new MuxClient(socket, c);
  }

  exec(command: string, optsOrCb: { pty: PseudoTtyOptions } | Opened, cb?: Opened): this {
    const done = (typeof optsOrCb === "function" ? optsOrCb : cb)!;
    const pty = typeof optsOrCb === "function" ? undefined : optsOrCb.pty;
    if (this.gone) {
      queueMicrotask(() => done(new Error("connection lost"), undefined as never));
      return this;
    }
    // No deadline: the daemon may queue the channel behind others (sshd's MaxSessions), as a
    // connection of one's own does; a daemon that dies closes the socket.
    open(this.socket, { command, ...(pty && { pty }) }).then(
      ({ c, reader, rest }) => {
        this.channels.add(c);
        c.on("close", () => this.channels.delete(c));
        done(undefined, new MuxChannel(c, reader, rest, (reason) => this.lose(reason)) as unknown as ClientChannel);
      },
      (e: Error) => done(e, undefined as never),
    );
    return this;
  }

  /** The kept connection is gone: "error" with why, then "close", as ssh2 says a lost connection. */
  private lose(reason: string): void {
    if (this.gone) return;
    this.gone = true;
    // The daemon's reason is its own "connection lost (why)" or "connection lost": the why is
    // what ssh-remote.ts wraps the same way.
    const why = reason === "connection lost" ? null : reason.replace(/^connection lost \((.*)\)$/s, "$1");
    if (why && this.listenerCount("error")) this.emit("error", new Error(why));
    this.watch.destroy();
    this.emit("close");
  }

  /** This command is done with it: its channels close (the host sees EOF); the daemon keeps the connection. */
  end(): void {
    for (const c of this.channels) c.destroy();
    if (this.gone) return;
    this.gone = true;
    this.watch.destroy();
    queueMicrotask(() => this.emit("close"));
  }

  destroy(): void {
    this.end();
  }
}
