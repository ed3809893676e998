import { describe, expect, test } from "bun:test";
import { PassThrough } from "node:stream";
import { helloConfig } from "../../test/fixtures/config.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { RemoteError, UsageError } from "../errors.ts";
import type { OpContext } from "../ops/context.ts";
import type { Remote, ShellOptions } from "../remote/remote.ts";
import { Redactor } from "../secrets/redact.ts";
import { DEFAULT_SHELL, type LocalTerminal, runInteractive } from "./exec-tty.ts";

const cfg: ResolvedConfig = {
  ...helloConfig,
  hosts: [
    { user: "root", host: "10.0.0.1", label: "root@10.0.0.1" },
    { user: "root", host: "10.0.0.2", label: "root@10.0.0.2" },
  ],
};

/** A Remote whose shell records what it was asked and lets the test act as the host. */
function fakeHost(behave: (argv: string[], o: ShellOptions, terminal: LocalTerminal) => Promise<number>) {
  const log: string[] = [];
  let term!: LocalTerminal;
  const connect = async (h: { label: string }): Promise<Remote> => ({
    label: h.label,
    exec: async () => ({ code: 0, stdout: "", stderr: "" }),
    write: async () => {},
    upload: async () => ({ bytesSent: 0 }),
    shell: (argv, o) => {
      log.push(`${h.label} ${JSON.stringify(argv)} ${o.pty.term} ${o.pty.rows}x${o.pty.cols}`);
      return behave(argv, o, term);
    },
    close: async () => void log.push(`${h.label} closed`),
  });
  const op: OpContext = { cfg, connect, events: () => {}, redactor: new Redactor(), who: "me@here", lockWaitSec: 0 };
  return { op, log, setTerminal: (t: LocalTerminal) => (term = t) };
}

/** A terminal like process.stdin/stdout's, recording raw-mode changes; `winch` fires a resize. */
function fakeTerminal(tty = true) {
  const modes: boolean[] = [];
  const stdin = Object.assign(new PassThrough(), {
    isTTY: tty,
    isRaw: false,
    setRawMode(on: boolean) {
      modes.push(on);
      this.isRaw = on;
      return this as never;
    },
  });
  const stdout = new PassThrough();
  const win = { rows: 40, cols: 120 };
  const listeners = new Set<() => void>();
  const t: LocalTerminal = { stdin, stdout, term: "xterm-kitty", size: () => ({ ...win }), onResize: (l) => (listeners.add(l), () => listeners.delete(l)) };
  return { t, modes, win, listeners, winch: () => listeners.forEach((l) => l()) };
}

describe("runInteractive", () => {
  test("switch.sh's exec verb on the first host, the local size and $TERM, raw while it runs; resizes passed on; exit status back", async () => {
    const resizes: string[] = [];
    const lt = fakeTerminal();
    const h = fakeHost(async (_argv, o) => {
      expect(lt.t.stdin.isRaw).toBe(true);
      o.onResize!((r, c) => resizes.push(`${r}x${c}`));
      lt.win.rows = 50;
      lt.win.cols = 200;
      lt.winch();
      return 5;
    });
    expect(await runInteractive(h.op, ["bin/console", "--env", "prod"], {}, lt.t)).toBe(5);
    expect(h.log).toEqual(['root@10.0.0.1 ["/srv/qdeploy/hello/switch","exec","bin/console","--env","prod"] xterm-kitty 40x120', "root@10.0.0.1 closed"]);
    expect(resizes).toEqual(["50x200"]);
    expect(lt.modes).toEqual([true, false]);
  });

  test("no command: a shell (bash if there, else sh, not a login shell); --host N picks the host", async () => {
    const lt = fakeTerminal();
    const h = fakeHost(async () => 0);
    await runInteractive(h.op, [], { hostNumber: 2 }, lt.t);
    expect(h.log[0]).toBe(`root@10.0.0.2 ${JSON.stringify(["/srv/qdeploy/hello/switch", "exec", ...DEFAULT_SHELL])} xterm-kitty 40x120`);
    expect(DEFAULT_SHELL).toEqual(["sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; fi; exec sh"]);
  });

  test("the terminal is restored when the session fails, and the connection closed", async () => {
    const lt = fakeTerminal();
    const h = fakeHost(async () => {
      throw new RemoteError("root@10.0.0.1", "connection lost while running `switch exec sh`");
    });
    await expect(runInteractive(h.op, ["sh"], {}, lt.t)).rejects.toThrow("connection lost");
    expect(lt.modes).toEqual([true, false]);
    expect(h.log.at(-1)).toBe("root@10.0.0.1 closed");
  });

  test("stdin that is not a terminal is left as it is (no raw mode); the PTY is still asked for", async () => {
    const lt = fakeTerminal(false);
    const h = fakeHost(async () => 0);
    expect(await runInteractive(h.op, ["tty"], {}, lt.t)).toBe(0);
    expect(lt.modes).toEqual([]);
    expect(h.log[0]).toContain("xterm-kitty 40x120");
  });

  test("one host only: several matching, or no such host number, is a usage error before any connection", async () => {
    const h = fakeHost(async () => 0);
    await expect(runInteractive(h.op, ["sh"], { filter: { hosts: ["10.0.0.1", "10.0.0.2"] } }, fakeTerminal().t)).rejects.toThrow(
      new UsageError("exec -it runs on one host, but 2 match (root@10.0.0.1, root@10.0.0.2); pick one with --host N or --hosts"),
    );
    await expect(runInteractive(h.op, ["sh"], { hostNumber: 3 }, fakeTerminal().t)).rejects.toThrow(new UsageError("environment sandbox has no host #3"));
    expect(h.log).toEqual([]);
  });
});
