/**
 * The process that keeps a host's SSH connection open between commands (ssh.persist, as
 * OpenSSH's ControlPersist): started in the background by a command that connected
 * (./mux.ts), it logs in on its own (the host key strictly checked against known_hosts),
 * then offers the connection on a Unix socket only its user can open. Each client
 * connection there is one channel on it (./mux-frames.ts). It exits when the connection
 * closes, or when no command has used it for ssh.persist.
 *
 * Run as `qdeploy __ssh-mux` with its MuxSpec as JSON in $QDEPLOY_MUX_SPEC (paths and a host
 * name: nothing secret; the environment is readable only by its user).
 */
import { renameSync, rmSync, statSync, unlinkSync } from "node:fs";
import net from "node:net";
import type { Client, ClientChannel } from "ssh2";
import type { HostAddress } from "../config/types.ts";
import { FrameReader, frame } from "./mux-frames.ts";
import { startingMark } from "./mux.ts";
import { type ConnectOptions, connectSsh, type SshSettings } from "./ssh.ts";
import type { SshRemote } from "./ssh-remote.ts";

/** What the daemon connects to, and where it listens. */
export interface MuxSpec {
  host: HostAddress;
  ssh: SshSettings;
  opts: Pick<ConnectOptions, "root" | "env" | "user" | "sshConfigFile">;
  socket: string;
  persistSec: number;
}

/**
 * Logs in and offers the connection at spec.socket; resolves once it listens (muxDaemonMain
 * then removes the starting mark). It serves on until idle for spec.persistSec or lost.
 */
export async function runMuxDaemon(spec: MuxSpec): Promise<void> {
  process.umask(0o077);
  // Strict: the command that started it has just accepted (or recorded) the host's key.
  const remote = (await connectSsh(spec.host, { ...spec.ssh, hostKey: "strict" }, { ...spec.opts, timeoutMs: 20_000 })) as SshRemote;
  // The host sets up its login session (PAM) at the connection's first channel: paid here, not by the next command.
  await remote.exec(["true"]);
  const clients = new Set<net.Socket>();
  let idle: ReturnType<typeof setTimeout> | undefined;
  let ino = 0;
  let stopping = false;
  // `why`: the connection was lost; each command using it hears so (an L frame) before its socket ends.
  const shutdown = (why?: string) => {
    if (stopping) return;
    stopping = true;
    server.close();
    for (const c of clients) (why === undefined ? c.end() : c.end(frame("L", why)));
    // Only our own socket: another daemon may have taken the name since.
    try {
      if (statSync(spec.socket).ino === ino) unlinkSync(spec.socket);
    } catch {}
    void remote.close().finally(() => setTimeout(() => process.exit(0), 100));
  };
  const busy = (c: net.Socket) => {
    clients.add(c);
    clearTimeout(idle);
    c.on("close", () => {
      clients.delete(c);
      if (!clients.size) idle = setTimeout(shutdown, spec.persistSec * 1000);
    });
  };
  remote.client.on("close", () => shutdown(remote.lostReason ?? "connection lost"));

  const server = net.createServer((c) => {
    busy(c);
    c.on("error", () => {});
    const reader = new FrameReader();
    let serve: ((type: string, body: Buffer) => void) | undefined;
    c.on("data", (chunk: Buffer) => {
      for (const { type, body } of reader.push(chunk)) {
        if (serve) serve(type, body);
        else if (type === "H") serve = hello(remote, c, parse(body));
        else c.destroy();
      }
    });
  });
  // Listen under a temporary name, then rename: a command never finds a socket that is not ready.
  const temp = `${spec.socket}.${process.pid}`;
  await new Promise<void>((res, rej) => server.once("error", rej).listen(temp, res));
  renameSync(temp, spec.socket);
  ino = statSync(spec.socket).ino;
  idle = setTimeout(shutdown, spec.persistSec * 1000);
}

/** A hello's JSON; a malformed one asks for nothing (the socket is then closed by hello). */
function parse(body: Buffer): { watch?: boolean; command?: string; pty?: object } {
  try {
    return JSON.parse(body.toString());
  } catch {
    return {};
  }
}

/** Answers a client's hello: the connection's watch, or a channel it then drives. */
function hello(remote: SshRemote, c: net.Socket, h: { watch?: boolean; command?: string; pty?: object }): (type: string, body: Buffer) => void {
  if (h.watch) {
    // A connection whose host rebooted or whose network changed may look open until a write
    // fails: one round trip first, so a command never starts on a dead one (it connects directly).
    void answers(remote.client as Client).then((ok) => {
      if (ok) return void c.write(frame("R"));
      c.end(frame("F", "the kept connection does not answer"));
      (remote.client as Client).destroy();
    });
    return () => {};
  }
  if (typeof h.command !== "string") {
    c.destroy();
    return () => {};
  }
  const command = h.command;
  let ch: ClientChannel | undefined;
  const pending: [string, Buffer][] = [];
  const drive = (type: string, body: Buffer) => {
    if (!ch) return void pending.push([type, body]);
    try {
      if (type === "I") {
        if (!ch.write(body)) {
          c.pause();
          ch.once("drain", () => c.resume());
        }
      } else if (type === "D") ch.end();
      else if (type === "S") ch.signal(body.toString());
      else if (type === "W") {
        const w = JSON.parse(body.toString());
        ch.setWindow(w.rows, w.cols, 0, 0);
      } else if (type === "K") ch.close();
    } catch {}
  };
  void remote.channels.acquire().then(() => {
    if (c.destroyed) return remote.channels.release();
    const opened = (err: Error | undefined, channel: ClientChannel) => {
      if (err) {
        remote.channels.release();
        return c.end(frame("F", remote.lostReason ?? err.message));
      }
      ch = channel;
      c.write(frame("R"));
      const relay = (type: "O" | "E", from: NodeJS.ReadableStream) => (b: Buffer) => {
        if (!c.write(frame(type, b))) {
          from.pause();
          c.once("drain", () => from.resume());
        }
      };
      channel.on("data", relay("O", channel));
      channel.stderr.on("data", relay("E", channel.stderr));
      channel.on("exit", (code: number | null, signal?: string) => c.write(frame("X", JSON.stringify({ code, signal }))));
      channel.on("error", () => {});
      channel.on("close", () => {
        remote.channels.release();
        c.end(frame("C"));
      });
      // The command went away (ended, killed): the channel gets EOF and closes, as when its
      // own connection drops; what runs on the host decides what that means (the lock lets go).
      c.on("close", () => {
        try {
          channel.end();
          channel.close();
        } catch {}
      });
      for (const [t, b] of pending.splice(0)) drive(t, b);
    };
    if (h.pty) remote.client.exec(command, { pty: h.pty }, opened);
    else remote.client.exec(command, opened);
  });
  return drive;
}

/**
 * True when the host answers a global request within PING_MS: a cancel of a forwarding that
 * does not exist, which sshd refuses at once without starting anything (ssh2 has no public
 * ping; its keepalive is the same kind of request).
 */
function answers(client: Client): Promise<boolean> {
  return new Promise((res) => {
    const timer = setTimeout(() => res(false), PING_MS);
    try {
      client.unforwardIn("qdeploy-ping.invalid", 1, () => {
        clearTimeout(timer);
        res(true);
      });
    } catch {
      clearTimeout(timer);
      res(false);
    }
  });
}

const PING_MS = 1500;

/** `qdeploy __ssh-mux`: the daemon, its MuxSpec in $QDEPLOY_MUX_SPEC. */
export async function muxDaemonMain(): Promise<void> {
  const spec = JSON.parse(process.env.QDEPLOY_MUX_SPEC ?? "null") as MuxSpec | null;
  if (!spec) process.exit(2);
  const started = () => rmSync(startingMark(spec.socket), { force: true });
  await runMuxDaemon(spec).then(started, () => {
    started();
    process.exit(1);
  });
}
