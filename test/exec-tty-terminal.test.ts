/**
 * `exec -it`'s local side on a real pseudo-terminal (script(1)): raw mode while the session
 * runs, and the terminal restored (echo, canonical input) when the session fails (while
 * qdeploy still runs: its own doing) or qdeploy is killed with SIGTERM or SIGHUP mid-session
 * (Bun's doing: it resets the terminal on a fatal signal, as Node does).
 */
import { expect, test } from "bun:test";
import path from "node:path";
import { requireTool } from "./tools.ts";

const BUN = path.resolve(import.meta.dir, "../node_modules/.bin/bun");
const HANG = path.join(import.meta.dir, "fixtures/exec-tty-hang.ts");

/** Runs the fixture in a 30x100 terminal; `kill` signals it once its session runs. Returns the screen, the fixture's status, the terminal's flags after. */
async function onTerminal(mode: "hang" | "fail", kill?: "SIGTERM" | "SIGHUP"): Promise<{ screen: string; rc: string; flags: string }> {
  const script = requireTool("script");
  const command = `stty rows 30 cols 100; '${BUN}' '${HANG}' ${mode}; echo "rc=$?"; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?\\(echo\\|icanon\\)' | tr '\\n' ' '`;
  const p = Bun.spawn([script, "-qefc", command, "/dev/null"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill(), 20_000);
  let screen = "";
  let killed = false;
  const decoder = new TextDecoder();
  for await (const chunk of p.stdout) {
    screen += decoder.decode(chunk);
    const pid = /session pid=(\d+)/.exec(screen)?.[1];
    if (kill && pid && !killed) {
      killed = true;
      process.kill(Number(pid), kill);
    }
  }
  p.stdin.end();
  await p.exited;
  clearTimeout(timer);
  return { screen, rc: /rc=(\d+)/.exec(screen)?.[1] ?? "?", flags: screen.trim().split("\n").at(-1)!.trim() };
}

test("raw while the session runs, at the terminal's size; restored when the session fails", async () => {
  const r = await onTerminal("fail");
  expect(r.screen).toContain("session pid=");
  expect(r.screen).toContain("raw=true size=30x100");
  expect(r.screen).toContain("failed: connection lost; alive with raw=false icanon echo");
  expect(r.flags).toBe("icanon echo");
});

for (const [sig, rc] of [["SIGTERM", "143"], ["SIGHUP", "129"]] as const) {
  test(`${sig} mid-session: the terminal is restored, exit ${rc}`, async () => {
    const r = await onTerminal("hang", sig);
    expect(r.screen).toContain("raw=true");
    expect(r.rc).toBe(rc);
    expect(r.flags).toBe("icanon echo");
  });
}
