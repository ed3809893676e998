/**
 * `qdeploy exec -it ENV [-- CMD...]`: a console or shell on one host, on a pseudo-terminal,
 * as the app user with the live release's environment (switch.sh's `exec` verb, which
 * gives the unit a PTY of its own through `systemd-run --pty` when it runs on one).
 */
import type { ReadStream } from "node:tty";
import { OperationError, UsageError } from "../errors.ts";
import type { OpContext } from "../ops/context.ts";
import { execHosts } from "../ops/host-commands.ts";
import { type HostFilter, withConnections } from "../ops/sessions.ts";
import type { Remote } from "../remote/remote.ts";
import { switchCommands } from "../server-commands.ts";
import { type Ctx, loadEnvironment, opContext } from "./context.ts";

/**
 * With no command: bash if the host has it, else sh. Not a login shell: /etc/profile would
 * reset PATH and drop the release's bin directory that switch.sh puts first.
 */
export const DEFAULT_SHELL = ["sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; fi; exec sh"];

/** The local side of the session: the user's terminal, or a test's streams. */
export interface LocalTerminal {
  stdin: NodeJS.ReadableStream & Partial<Pick<ReadStream, "isTTY" | "isRaw" | "setRawMode">>;
  stdout: NodeJS.WritableStream;
  /** $TERM for the host's PTY. */
  term: string;
  /** The window's size now. */
  size: () => { rows: number; cols: number };
  /** Subscribes to window resizes; returns the unsubscribe. */
  onResize: (listener: () => void) => () => void;
}

/** This process's terminal: stdin/stdout, $TERM, SIGWINCH. */
export function processTerminal(): LocalTerminal {
  return {
    stdin: process.stdin,
    stdout: process.stdout,
    term: process.env.TERM || "xterm",
    // Asked of the terminal each time (ioctl): Bun's stdout.rows stays at the startup size.
    size: () => {
      const [cols, rows] = process.stdout.isTTY ? process.stdout.getWindowSize() : [0, 0];
      return { rows: rows || 24, cols: cols || 80 };
    },
    onResize: (listener) => {
      process.on("SIGWINCH", listener);
      return () => process.off("SIGWINCH", listener);
    },
  };
}

/** `qdeploy exec -it ENV -- CMD...` on host --host N (default the first) or the one host --hosts/--role keep; the command's exit status. */
export async function execInteractive(ctx: Ctx, env: string, argv: string[], where: { hostNumber?: number; filter?: HostFilter }): Promise<number> {
  const cfg = await loadEnvironment(ctx, env);
  return runInteractive(opContext(ctx, cfg), argv, where, processTerminal());
}

/**
 * The session itself: one host, the command through switch.sh's `exec` on a PTY of the local
 * window's size, local stdin raw while it runs (restored however it ends), resizes passed on.
 * The output is the terminal's own bytes: unlike `exec`, nothing is redacted from it.
 */
export async function runInteractive(op: OpContext, argv: string[], where: { hostNumber?: number; filter?: HostFilter }, term: LocalTerminal): Promise<number> {
  const hosts = execHosts(op.cfg, where);
  if (hosts.length > 1) {
    throw new UsageError(`exec -it runs on one host, but ${hosts.length} match (${hosts.map((h) => h.label).join(", ")}); pick one with --host N or --hosts`);
  }
  const command = switchCommands(op.cfg.app).exec(argv.length ? argv : DEFAULT_SHELL);
  return withConnections(hosts, op.connect, async ([c]) => terminalSession(c!.remote, command, term));
}

/**
 * Runs argv on a PTY of the host wired to the local terminal: stdin raw while it runs
 * (restored however it ends), resizes passed on. Its exit status.
 */
export async function terminalSession(remote: Remote, command: string[], term: LocalTerminal): Promise<number> {
  if (!remote.shell) throw new OperationError(`${remote.label}: this connection cannot open a terminal`);
  const raw = Boolean(term.stdin.isTTY && term.stdin.setRawMode && !term.stdin.isRaw);
  // Raw: every key (Ctrl-C, Ctrl-D, arrows) goes to the host's terminal, which interprets it.
  // Restored in `finally` for what follows in this process (an error printed); on a fatal
  // signal Bun resets the terminal for SIGTERM and SIGINT but not for SIGHUP: done here.
  const onHangup = () => {
    term.stdin.setRawMode!(false);
    process.exit(128 + 1);
  };
  if (raw) {
    term.stdin.setRawMode!(true);
    process.once("SIGHUP", onHangup);
  }
  try {
    return await remote.shell(command, {
      pty: { term: term.term, ...term.size() },
      stdin: term.stdin,
      stdout: term.stdout,
      onResize: (resize) =>
        term.onResize(() => {
          const s = term.size();
          resize(s.rows, s.cols);
        }),
    });
  } finally {
    process.off("SIGHUP", onHangup);
    if (raw) term.stdin.setRawMode!(false);
  }
}
