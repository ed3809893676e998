/**
 * Remote.shell (`exec -it`) against a real OpenSSH server on 127.0.0.1: the command sees a
 * terminal of the size asked for, a resize reaches it, typed bytes reach it, its exit status
 * (or signal) comes back. On its own connection, and on one an earlier command kept open
 * (ssh.persist).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { PassThrough, Writable } from "node:stream";
import type { Remote, ShellOptions } from "../src/remote/remote.ts";
import { connectSsh } from "../src/remote/ssh.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectKept, startSshd, type LocalSshd } from "./local-sshd.ts";

setDefaultTimeout(20_000);

let sshd: LocalSshd;
let direct: Remote;
let kept: Remote;

beforeAll(async () => {
  delete process.env.SSH_AUTH_SOCK;
  sshd = await startSshd();
  direct = await connectSsh(
    { user: "root", host: "127.0.0.1", port: sshd.port, label: `root@127.0.0.1:${sshd.port}` },
    { identity: sshd.identity, knownHosts: sshd.knownHosts, hostKey: "strict" },
  );
  kept = await connectKept(sshd, mkdtempSync(join(tmpdir(), "qdeploy-pty-run-")), 5);
});

afterAll(async () => {
  await direct?.close();
  await kept?.close();
  await sshd?.stop();
});

/** A terminal session's local side: typed input, collected output, a resize to fire. */
function terminal(rows = 24, cols = 80) {
  const stdin = new PassThrough();
  let output = "";
  const waiters: { text: string; res: () => void }[] = [];
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      output += chunk.toString();
      for (const w of [...waiters]) if (output.includes(w.text)) (waiters.splice(waiters.indexOf(w), 1), w.res());
      cb();
    },
  });
  let resize: ((rows: number, cols: number) => void) | undefined;
  let unsubscribed = false;
  const opts: ShellOptions = {
    pty: { term: "xterm-256color", rows, cols },
    stdin,
    stdout,
    onResize: (r) => {
      resize = r;
      return () => (unsubscribed = true);
    },
  };
  return {
    opts,
    stdin,
    output: () => output,
    /** Resolves once the output holds text. */
    seen: (text: string) => new Promise<void>((res) => (output.includes(text) ? res() : waiters.push({ text, res }))),
    resize: (r: number, c: number) => resize!(r, c),
    unsubscribed: () => unsubscribed,
  };
}

describe.each([
  ["its own connection", () => direct],
  ["a connection kept by an earlier command", () => kept],
])("shell (a PTY through ssh2), on %s", (_, on) => {
  let remote: Remote;
  beforeAll(() => {
    remote = on();
  });

  test("the command sees a terminal of the asked size, with $TERM", async () => {
    const t = terminal(33, 101);
    const code = await remote.shell!(["sh", "-c", 'tty; stty size; echo "term=$TERM"; [ -t 0 ] && [ -t 1 ] && echo both-ttys'], t.opts);
    expect(code).toBe(0);
    expect(t.output()).toMatch(/^\/dev\/pts\/\d+\r\n33 101\r\nterm=xterm-256color\r\nboth-ttys\r\n$/);
    expect(t.unsubscribed()).toBe(true);
  });

  test("a resize reaches the command (SIGWINCH, the new size), and its exit status comes back", async () => {
    const t = terminal(24, 80);
    const run = remote.shell!(["sh", "-c", 'trap \'stty size; exit 7\' WINCH; echo ready; while :; do sleep 0.1; done'], t.opts);
    await t.seen("ready");
    t.resize(50, 132);
    expect(await run).toBe(7);
    expect(t.output()).toContain("50 132\r\n");
  });

  test("typed input reaches the command through the terminal (echoed, line-edited)", async () => {
    const t = terminal();
    const run = remote.shell!(["sh", "-c", 'echo ready; read -r line; echo "got:$line"; exit 3'], t.opts);
    await t.seen("ready");
    t.stdin.write("helo\x7flo world\r"); // a backspace the terminal's line discipline applies
    expect(await run).toBe(3);
    expect(t.output()).toContain("got:hello world\r\n");
  });

  test("Ctrl-C typed goes to the command as SIGINT: 128+2", async () => {
    const t = terminal();
    const run = remote.shell!(["sh", "-c", "echo ready; exec sleep 30"], t.opts);
    await t.seen("ready");
    t.stdin.write("\x03");
    expect(await run).toBe(130);
  });

  test("exit codes pass through; the connection stays usable afterwards", async () => {
    for (const n of [0, 1, 42]) expect(await remote.shell!(["sh", "-c", `exit ${n}`], terminal().opts)).toBe(n);
    expect((await remote.exec(["echo", "still here"])).stdout).toBe("still here\n");
  });
});
