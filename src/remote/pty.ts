/**
 * Remote.shell over SSH (`exec -it`): a command on a pseudo-terminal, its bytes copied
 * both ways and the window size kept in step, until it exits.
 */
import { constants as osConstants } from "node:os";
import type { ClientChannel } from "ssh2";
import { RemoteError } from "../errors.ts";
import type { ShellOptions } from "./remote.ts";
import type { SshSession } from "./ssh-remote.ts";

/** Runs argv on a PTY wired to opts' streams: its exit status (128 + the signal's number if a signal killed it). */
export async function runShell(s: SshSession, argv: string[], opts: ShellOptions): Promise<number> {
  const command = s.commandLine(argv);
  const shown = `\`${command.length > 200 ? `${command.slice(0, 200)}…` : command}\``;
  await s.channels.acquire();
  try {
    if (s.lostReason) throw new RemoteError(s.label, `cannot run ${shown}: ${s.lostReason}`);
    const { term, rows, cols } = opts.pty;
    const ch = await new Promise<ClientChannel>((res, rej) => {
      s.client.exec(command, { pty: { term, rows, cols, width: 0, height: 0 } }, (err, ch) =>
        err ? rej(new RemoteError(s.label, `cannot start ${shown}: ${s.lostReason ?? err.message}`)) : res(ch),
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
        s.onLost.delete(lost);
        f();
      };
      const lost = () => finish(() => rej(new RemoteError(s.label, `${s.lostReason ?? "connection lost"} while running ${shown.slice(1)}`)));
      s.onLost.add(lost);
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
          if (s.lostReason && !s.closing) return lost();
          return finish(() => rej(new RemoteError(s.label, `${shown} ended without an exit status`)));
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
    s.channels.release();
  }
}
