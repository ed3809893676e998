/**
 * `exec -it` on the sandbox VM, under script(1) so qdeploy's stdin is a terminal: the command
 * runs on a PTY of the local window's size, as the app user (DynamicUser, like the app's
 * units) with the live release's env; typed input reaches it, a resize of the local window
 * reaches it, its exit status comes back; with no command it is a shell.
 * The VM is shared with the other e2e files: this one touches only its own app.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { requireTool } from "../tools.ts";
import { cleanApp, makeProject, ok, onVm, onVmOk, qdeploy, REPO, sandbox, writeConfig } from "./harness.ts";

const MIN = 60_000;
const APP = "ttyapp"; // no prefix in common with the other suites' apps
const QDEPLOY = path.join(REPO, "bin/qdeploy");
let vm: SandboxInfo;
let dir: string;

/** A single-quoted sh word. */
const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Runs `exec -it sandbox -- argv` in a 30x100 terminal (script(1)); `steps` are [text to wait
 * for, what to do then (type, or resize the terminal to 40x120)]. Returns output and status.
 */
async function session(argv: string[], steps: [string, string | "resize"][]): Promise<{ code: number; out: string }> {
  const script = requireTool("script");
  const flag = path.join(dir, `resize-${Date.now()}`);
  // The background job resizes the terminal when the flag appears: the kernel then sends
  // SIGWINCH to the foreground process group, qdeploy's.
  const inner = [
    "stty rows 30 cols 100",
    `(while [ ! -e ${q(flag)} ]; do sleep 0.1; done; stty rows 40 cols 120 </dev/tty) &`,
    `exec ${q(QDEPLOY)} exec -it sandbox -- ${argv.map(q).join(" ")}`,
  ].join("\n");
  const p = Bun.spawn([script, "-q", "-e", "-c", inner, "/dev/null"], { cwd: dir, env: { ...process.env, TERM: "xterm-256color" }, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  let out = "";
  const reader = p.stdout.getReader();
  const deadline = Date.now() + 60_000;
  const read = async (until: string) => {
    while (!out.includes(until)) {
      if (Date.now() > deadline) throw new Error(`no ${JSON.stringify(until)} in the session's output: ${JSON.stringify(out)}`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`the session ended before ${JSON.stringify(until)}: ${JSON.stringify(out)}`);
      out += new TextDecoder().decode(value);
    }
  };
  for (const [until, act] of steps) {
    await read(until);
    if (act === "resize") writeFileSync(flag, "");
    else p.stdin.write(act);
    p.stdin.flush();
  }
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  p.stdin.end();
  const code = await p.exited;
  if (!existsSync(flag)) writeFileSync(flag, ""); // lets the resizer go
  // script's own terminal keeps output processing on (Bun's raw mode leaves OPOST set), so
  // each "\r\n" from the host arrives as "\r\r\n": on a screen the same thing.
  return { code, out: (out + (await new Response(p.stderr).text())).replaceAll("\r\r\n", "\r\n") };
}

/**
 * What a process's sandbox looks like from inside (sh, reading /proc/self): no new privileges,
 * the seccomp filter, its capability sets, its user namespace (PrivateUsers: a map of two
 * users, not the host's whole range), and whether the host's disk and /dev/mem are in /dev.
 */
const SANDBOX_PROBE =
  'grep -E "^(NoNewPrivs|Seccomp|CapBnd|CapEff):" /proc/self/status | tr -s "\t " " "; echo "uid_map lines: $(wc -l < /proc/self/uid_map)"; ' +
  'echo "host devices: $(ls /dev | grep -cE "^(vda|sda|mem|kmsg)$")"';

/** The same probe, as root on the VM, for the running worker unit's main process. */
async function workerSandbox(): Promise<string> {
  const probe = SANDBOX_PROBE.replaceAll("/proc/self", '/proc/$pid').replace("ls /dev", 'ls /proc/$pid/root/dev');
  return onVmOk(vm, `pid=$(systemctl show -P MainPID ${APP}-worker@1.service); ${probe}`);
}

beforeAll(async () => {
  vm = await sandbox();
  dir = makeProject(APP);
  await cleanApp(vm, APP);
  writeConfig(dir, vm, { app: APP, workers: 1, env: { TTY_PROOF: "from-the-live-env" } });
  ok(await qdeploy(dir, ["push", "sandbox"]));
}, 10 * MIN);

describe("exec -it", () => {
  test("a PTY of the local size, as the app user with the live env; typed input and a resize reach it; the exit status comes back", async () => {
    const { code, out } = await session(
      [
        "bash",
        "-c",
        'tty; [ -t 0 ] && [ -t 1 ] && echo both-ttys; echo "who=$(id -un) env=$TTY_PROOF term=$TERM"; stty size; ' +
          'echo ready-for-input; read -r line; echo "got:$line"; ' +
          "trap 'stty size; exit 7' WINCH; echo ready-for-resize; while :; do sleep 0.1; done",
      ],
      [
        ["ready-for-input", "typed words\r"],
        ["ready-for-resize", "resize"],
      ],
    );
    expect(out).toMatch(/\/dev\/pts\/\d+\r\nboth-ttys\r\n/);
    expect(out).toContain(`who=${APP} env=from-the-live-env term=xterm-256color\r\n30 100\r\n`);
    expect(out).toContain("got:typed words\r\n");
    expect(out).toContain("40 120\r\n");
    expect(code).toBe(7);
  }, 2 * MIN);

  test("the console is sandboxed as the app's process units are (issue 21), and its terminal still works", async () => {
    const { code, out } = await session(["sh", "-c", `tty; ${SANDBOX_PROBE}; ls /dev/pts >/dev/null && echo pts-listed; exit 3`], []);
    const expected = (await workerSandbox()).trim().split("\n");
    expect(expected).toContain("NoNewPrivs: 1");
    expect(expected).toContain("Seccomp: 2");
    expect(expected).not.toContain("uid_map lines: 1"); // PrivateUsers: not the host's whole range
    expect(expected).toContain("host devices: 0");
    expect(out).toMatch(/\/dev\/pts\/\d+\r\n/);
    expect(out).toContain(`${expected.join("\r\n")}\r\npts-listed\r\n`);
    expect(code).toBe(3);
  }, 2 * MIN);

  test("no command: a shell (bash) with the release's app/bin first on PATH", async () => {
    const { code, out } = await session([], [["$ ", 'echo "shell=$0 who=$(id -un) path=${PATH%%:*}"; exit 5\r']]);
    expect(out).toMatch(new RegExp(`shell=bash who=${APP} path=/srv/qdeploy/${APP}/releases/\\d+/app/bin\\r\\n`));
    expect(code).toBe(5);
  }, 2 * MIN);
});

describe("beside exec -it", () => {
  test("plain exec (no terminal) still runs with pipes, as the app user with the env", async () => {
    const r = ok(await qdeploy(dir, ["exec", "sandbox", "--", "sh", "-c", '[ -t 0 ] || [ -t 1 ] || echo "no-tty $(id -un) $TTY_PROOF"']));
    expect(r.stdout).toBe(`no-tty ${APP} from-the-live-env\n`);
  }, MIN);

  test("plain exec is sandboxed as the app's process units are (issue 21)", async () => {
    const r = ok(await qdeploy(dir, ["exec", "sandbox", "--", "sh", "-c", SANDBOX_PROBE]));
    expect(r.stdout).toBe(await workerSandbox());
  }, MIN);

  test("audit: the push's activation, who did it, as a table and as {entries}", async () => {
    const run = async (json: boolean) => ok(await qdeploy(dir, ["audit", "sandbox", "-n", "10", ...(json ? ["--json"] : [])])).stdout;
    const label = `root@127.0.0.1:${vm.sshPort}`;
    const table = (await run(false)).split("\n");
    expect(table[0]).toMatch(/^TIME {18}HOST +WHAT +WHO$/);
    expect(table[1]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  ${label.replaceAll(".", "\\.")}  activated \\d{14}  \\S+@\\S+$`));
    const { entries } = JSON.parse(await run(true));
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ host: label, who: expect.stringMatching(/@/), what: expect.stringMatching(/^activated \d{14}$/) });
  }, MIN);
});

describe("exec -it through sudo", () => {
  // Last: it points deploy.toml at another login. Debian's sudo keeps a PTY of its own
  // (use_pty) between sshd's and the unit's; the size and the exit status cross all three.
  test("a deploy user other than root: the same PTY session through sudo -n", async () => {
    const user = "ttyuser";
    const pub = readFileSync(`${vm.identity}.pub`, "utf8").trim();
    await onVm(vm, ["bash", "-c", `userdel -rf ${user} 2>/dev/null; rm -f /etc/sudoers.d/qdeploy-${user}; true`]);
    await onVmOk(
      vm,
      `command -v sudo >/dev/null && useradd -m -s /bin/bash -p '*' ${user} && install -d -m 700 -o ${user} -g ${user} ~${user}/.ssh && ` +
        `printf '%s\\n' '${pub}' > ~${user}/.ssh/authorized_keys && chown ${user}: ~${user}/.ssh/authorized_keys && ` +
        `echo '${user} ALL=(root) NOPASSWD: ALL' > /etc/sudoers.d/qdeploy-${user} && chmod 440 /etc/sudoers.d/qdeploy-${user}`,
    );
    const file = path.join(dir, "deploy.toml");
    writeFileSync(file, readFileSync(file, "utf8").replace(`"root@127.0.0.1:${vm.sshPort}"`, `"${user}@127.0.0.1:${vm.sshPort}"`));
    expect(readFileSync(file, "utf8")).toContain(`"${user}@127.0.0.1:${vm.sshPort}"`);
    try {
      const { code, out } = await session(["sh", "-c", '[ -t 0 ] && [ -t 1 ] && echo both-ttys; stty size; echo "who=$(id -un) env=$TTY_PROOF"; exit 9'], []);
      expect(out).toContain(`both-ttys\r\n30 100\r\nwho=${APP} env=from-the-live-env\r\n`);
      expect(code).toBe(9);
    } finally {
      // The VM is shared: sudo.test.ts lists /etc/sudoers.d exactly.
      await onVm(vm, ["bash", "-c", `userdel -rf ${user} 2>/dev/null; rm -f /etc/sudoers.d/qdeploy-${user}; true`]);
    }
  }, 2 * MIN);
});
