/**
 * ssh.persist (src/remote/mux.ts) against a real OpenSSH server on 127.0.0.1: a command's
 * connection is kept by a daemon for the next one, behind a socket only its user can open,
 * keyed by every setting (the known_hosts content included); it ends after its idle time,
 * a stale or unsafe socket means a direct connection, and a lost one says so. (The exec,
 * write, upload and terminal tests of test/ssh.test.ts and ssh-pty.test.ts run through a
 * kept connection too.)
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RemoteError } from "../src/errors.ts";
import { connectSsh, type SshSettings } from "../src/remote/ssh.ts";
import { connectKept, type CuttableProxy, startProxy, startSshd, type LocalSshd } from "./local-sshd.ts";

setDefaultTimeout(30_000);

let sshd: LocalSshd;
let work: string;

beforeAll(async () => {
  delete process.env.SSH_AUTH_SOCK;
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), "qdeploy-persist-test-"));
});

afterAll(async () => {
  for (const pid of daemons()) process.kill(pid, "SIGKILL");
  await sshd?.stop();
  rmSync(work, { recursive: true, force: true });
});

const addr = (port = sshd.port) => ({ user: "root", host: "127.0.0.1", port, label: `root@127.0.0.1:${port}` });
const settings = (over: Partial<SshSettings> = {}): SshSettings => ({ identity: sshd.identity, knownHosts: sshd.knownHosts, hostKey: "strict", ...over });

/** A fresh $XDG_RUNTIME_DIR, and the sockets folder qdeploy makes in it. */
function runtime(): { base: string; dir: string } {
  const base = mkdtempSync(join(work, "run-"));
  process.env.XDG_RUNTIME_DIR = base;
  return { base, dir: join(base, `qdeploy-${process.getuid!()}`) };
}

const sockets = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".sock")) : []);

async function until(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** The daemons of this test run (their spec names this run's folder), by pid. */
function daemons(): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      const env = readFileSync(`/proc/${p}/environ`, "utf8");
      return env.includes("QDEPLOY_MUX_SPEC=") && env.includes(work) ? [Number(p)] : [];
    } catch {
      return [];
    }
  });
}

/**
 * A connection kept (by the only daemon of this test run) to sshd through a proxy a test can
 * cut or stall, with a known_hosts for the proxy's port; a fresh runtime folder.
 */
async function keptThroughProxy(): Promise<{ proxy: CuttableProxy; ssh: SshSettings }> {
  const { dir } = runtime();
  for (const pid of daemons()) process.kill(pid, "SIGKILL");
  const proxy = await startProxy(sshd.port);
  const kh = join(work, `known_hosts-${proxy.port}`);
  writeFileSync(kh, `[127.0.0.1]:${proxy.port} ${sshd.hostPub}\n`);
  const ssh = settings({ knownHosts: kh });
  await (await connectSsh(addr(proxy.port), ssh, { persistSec: 30 })).close();
  await until("the daemon", () => daemons().length === 1);
  await until("its socket", () => sockets(dir).length === 1);
  return { proxy, ssh };
}

describe("ssh.persist", () => {
  test("the connection is kept for the next command, behind a socket of this user's alone, keyed by the settings", async () => {
    const { dir } = runtime();
    const lines: string[] = [];
    const first = await connectSsh(addr(), settings(), { persistSec: 30, log: (l) => lines.push(l) });
    expect(sockets(dir)).toEqual([]); // the daemon starts as the command closes its connection
    await first.close();
    await until("the socket", () => sockets(dir).length === 1);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, sockets(dir)[0]!)).isSocket()).toBe(true);
    const second = await connectSsh(addr(), settings(), { persistSec: 30, log: (l) => lines.push(l) });
    expect(lines.at(-1)).toBe(`${addr().label}: using the connection an earlier command kept open (ssh.persist)`);
    expect(await second.exec(["sh", "-c", "echo $0 $1; echo err >&2; exit 3", "a", "b c"], { check: false })).toEqual({ code: 3, stdout: "a b c\n", stderr: "err\n" });
    await second.close();
    // Another known_hosts content is another connection: a changed host key record is never bypassed.
    const kh = join(work, "known_hosts-copy");
    writeFileSync(kh, `${readFileSync(sshd.knownHosts, "utf8")}# edited\n`);
    const third = await connectSsh(addr(), settings({ knownHosts: kh }), { persistSec: 30, log: (l) => lines.push(l) });
    expect(lines.at(-1)).toMatch(/: connected to root@127\.0\.0\.1 port \d+ in \d+ ms$/);
    await third.close();
    await until("a second socket", () => sockets(dir).length === 2);
  });

  test("the daemon ends after ssh.persist without a command, and takes its socket", async () => {
    const { dir } = runtime();
    const r = await connectKept(sshd, process.env.XDG_RUNTIME_DIR!, 2);
    await Bun.sleep(2500);
    expect(sockets(dir)).toHaveLength(1); // in use: kept
    await r.close();
    await until("the daemon's exit", () => sockets(dir).length === 0, 8000);
  });

  test("a command the host runs ends with EOF when the command using the kept connection closes it (the deploy lock lets go)", async () => {
    runtime();
    const r = await connectKept(sshd, process.env.XDG_RUNTIME_DIR!, 10);
    const flag = join(work, "eof-seen");
    let seen = "";
    const run = r.exec(["sh", "-c", 'echo ready; cat >/dev/null; touch "$1"', "sh", flag], { keepStdinOpen: true, onStdout: (c) => (seen += c) }).catch((e: unknown) => e);
    await until("ready", () => seen.includes("ready"));
    expect(existsSync(flag)).toBe(false);
    await r.close();
    expect(await run).toBeInstanceOf(RemoteError);
    await until("EOF on the host", () => existsSync(flag), 5000);
  });

  test("commands in quick succession start one daemon, not one each", async () => {
    const { dir } = runtime();
    for (const pid of daemons()) process.kill(pid, "SIGKILL");
    for (let i = 0; i < 3; i++) await (await connectSsh(addr(), settings(), { persistSec: 10 })).close();
    await until("the socket", () => sockets(dir).length === 1);
    await Bun.sleep(500);
    expect(daemons()).toHaveLength(1);
    expect(readdirSync(dir).filter((f) => f.endsWith(".starting"))).toEqual([]); // the daemon took its mark away
  });

  test("a stale socket (its daemon killed) means a direct connection, and a new daemon", async () => {
    const { dir } = runtime();
    await (await connectKept(sshd, process.env.XDG_RUNTIME_DIR!, 10)).close();
    for (const pid of daemons()) process.kill(pid, "SIGKILL");
    await until("no daemon", () => daemons().length === 0);
    expect(sockets(dir)).toHaveLength(1);
    const lines: string[] = [];
    const r = await connectSsh(addr(), settings(), { persistSec: 10, log: (l) => lines.push(l) });
    expect(lines.at(-1)).toMatch(/: connected to root@127\.0\.0\.1/);
    expect((await r.exec(["echo", "direct"])).stdout).toBe("direct\n");
    await r.close();
    await until("a new daemon", () => daemons().length === 1);
  });

  test("a sockets folder others can open is not used: it says why, and connects directly", async () => {
    const { base, dir } = runtime();
    await (await connectKept(sshd, base, 10)).close();
    chmodSync(dir, 0o755);
    const lines: string[] = [];
    const r = await connectSsh(addr(), settings(), { persistSec: 10, log: (l) => lines.push(l) });
    expect(lines).toContain(`${addr().label}: ssh.persist: ${dir} is not a folder of this user's alone (0700); not kept`);
    expect(lines.at(-1)).toMatch(/: connected to root@127\.0\.0\.1/);
    await r.close();
  });

  test("a kept connection that drops: the command running and every one after say connection lost; the next command connects directly", async () => {
    const { proxy, ssh } = await keptThroughProxy();
    try {
      const lines: string[] = [];
      const r = await connectSsh(addr(proxy.port), ssh, { persistSec: 30, log: (l) => lines.push(l) });
      expect(lines.at(-1)).toContain("kept open");
      setTimeout(() => proxy.cut(), 300);
      const err = await r.exec(["sleep", "10"]).catch((e: unknown) => e as RemoteError);
      expect(err).toBeInstanceOf(RemoteError);
      console.log(`the drop, as said: ${(err as RemoteError).message}`);
      expect((err as RemoteError).message).not.toContain("connection lost (connection lost");
      expect((err as RemoteError).message).toMatch(new RegExp(`^root@127\\.0\\.0\\.1:${proxy.port}: connection lost .*while running \`sleep 10\``));
      expect(((await r.exec(["true"]).catch((e: unknown) => e)) as Error).message).toContain("connection lost");
      await r.close();
      await until("the daemon's exit", () => daemons().length === 0);
      const again = await connectSsh(addr(proxy.port), ssh, { persistSec: 30, log: (l) => lines.push(l) });
      expect(lines.at(-1)).toMatch(/: connected to root@127\.0\.0\.1/);
      await again.close();
    } finally {
      await proxy.close();
    }
  });

  test("a kept connection that no longer answers (a host gone silent) is not used: the command connects directly", async () => {
    const { proxy, ssh } = await keptThroughProxy();
    try {
      proxy.stall();
      const lines: string[] = [];
      const t = Date.now();
      const r = await connectSsh(addr(proxy.port), ssh, { persistSec: 30, log: (l) => lines.push(l) });
      console.log(`a silent kept connection cost ${Date.now() - t} ms before the direct one`);
      expect(lines.at(-1)).toMatch(/: connected to root@127\.0\.0\.1/);
      expect((await r.exec(["echo", "direct"])).stdout).toBe("direct\n");
      await r.close();
    } finally {
      await proxy.close();
    }
  });
});
