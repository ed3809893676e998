/**
 * The sandbox VM, for real: builds (or reuses) the image, boots QEMU, logs in with the system
 * ssh client pinned to the written known_hosts, checks systemd/sshd/Caddy, reboots the guest,
 * and tears it down. Slow (a TCG boot is ~30s); no mocks.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ensureSandboxImage,
  sandboxDown,
  sandboxSshArgv,
  sandboxStatus,
  sandboxUp,
  type SandboxInfo,
} from "../src/sandbox/index.ts";

const SLOW = 300_000;
const projectDir = mkdtempSync(join(tmpdir(), "qdeploy-sandbox-test-"));
// Ports of its own, 200 above the e2e suites' sandbox (QDEPLOY_SANDBOX_*_PORT or the
// defaults 2222/8080/8443), so it never meets that VM or another checkout's.
const own = (name: string, fallback: number) => (Number(process.env[`QDEPLOY_SANDBOX_${name}_PORT`]) || fallback) + 200;
const opts = { projectDir, sshPort: own("SSH", 2222), httpPort: own("HTTP", 8080), httpsPort: own("HTTPS", 8443), log: (l: string) => console.log(`  [sandbox] ${l}`) };
const times: Record<string, string> = {};
let info: SandboxInfo;

/** Runs argv; returns exit code and output. */
async function sh(argv: string[], timeoutMs = 60_000): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, out: out.trim(), err: err.trim() };
}

/** The system ssh client trusting ONLY the given known_hosts file, strictly; no user config. */
function sshArgv(knownHosts: string, command: string[], extra: string[] = []): string[] {
  return [
    "ssh", "-F", "/dev/null",
    "-i", info.identity, "-o", "IdentitiesOnly=yes",
    "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
    ...extra,
    "-p", String(info.sshPort), "root@127.0.0.1", "--", ...command,
  ];
}

const ssh = (command: string[], extra: string[] = []) => sh(sshArgv(info.knownHosts, command, extra));

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)}s`;
}

afterAll(async () => {
  await sandboxDown(opts);
  rmSync(projectDir, { recursive: true, force: true });
  console.log(`  [sandbox] measured: ${JSON.stringify(times)}`);
});

describe("sandbox VM", () => {
  test("the image is built once and cached", async () => {
    const image = await ensureSandboxImage(opts.log);
    if (image.built) times.imageBuild = `${image.seconds.toFixed(1)}s`;
    for (const f of ["base.img", "vmlinuz", "initrd.img", "ssh_host_ed25519_key.pub"]) {
      expect(existsSync(join(image.dir, f))).toBe(true);
    }
    const again = await ensureSandboxImage();
    expect(again).toEqual({ dir: image.dir, built: false, seconds: 0 });
  }, 1_200_000);

  test("up boots the VM and writes the key and the pinned host key", async () => {
    const t0 = performance.now();
    info = await sandboxUp(opts);
    times.bootToSsh = seconds(t0);
    expect(info.running).toBe(true);
    expect(info.pid).toBeGreaterThan(0);
    expect(info.sshPort).toBe(opts.sshPort);
    expect(info.identity).toBe(join(projectDir, ".qdeploy/sandbox/id_ed25519"));
    expect(info.knownHosts).toBe(join(projectDir, ".qdeploy/sandbox/known_hosts"));
    expect(statSync(info.identity).mode & 0o777).toBe(0o600);
    const kh = readFileSync(info.knownHosts, "utf8");
    expect(kh).toMatch(new RegExp(`^\\[127\\.0\\.0\\.1\\]:${info.sshPort} ssh-ed25519 AAAA[A-Za-z0-9+/]+=*\\n$`));
  }, SLOW);

  test("ssh with only the written known_hosts and StrictHostKeyChecking=yes works", async () => {
    const r = await ssh(["true"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    // sandboxSshArgv is what `qdeploy sandbox ssh` runs: it must reach the VM the same way.
    const viaApi = await sh(sandboxSshArgv(info, ["echo", "hello world"]));
    expect(viaApi).toEqual({ code: 0, out: "hello world", err: "" });
  }, SLOW);

  test("no trust on first use: an empty or different known_hosts is refused", async () => {
    const empty = join(projectDir, "empty_known_hosts");
    writeFileSync(empty, "");
    const r1 = await sh(sshArgv(empty, ["true"]));
    expect(r1.code).toBe(255);
    expect(r1.err).toContain("Host key verification failed");

    const otherKey = join(projectDir, "other_key");
    await sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", otherKey]);
    const wrong = join(projectDir, "wrong_known_hosts");
    const pub = readFileSync(`${otherKey}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    writeFileSync(wrong, `[127.0.0.1]:${info.sshPort} ${pub}\n`);
    const r2 = await sh(sshArgv(wrong, ["true"]));
    expect(r2.code).toBe(255);
    expect(r2.err).toContain("REMOTE HOST IDENTIFICATION HAS CHANGED");
  }, SLOW);

  test("systemd is PID 1; caddy and ssh are active", async () => {
    expect(await ssh(["ps", "-p", "1", "-o", "comm="])).toMatchObject({ code: 0, out: "systemd" });
    expect(await ssh(["systemctl", "is-active", "caddy", "ssh"])).toMatchObject({ code: 0, out: "active\nactive" });
    expect(await ssh(["systemctl", "is-system-running"])).toMatchObject({ out: "running" });
  }, SLOW);

  test("root logs in by key only", async () => {
    const cfg = await ssh(["sshd", "-T"]);
    expect(cfg.out).toContain("permitrootlogin without-password"); // sshd -T's name for prohibit-password
    expect(cfg.out).toContain("passwordauthentication no");
    expect(cfg.out.split("\n").filter((l) => l.startsWith("hostkey "))).toEqual(["hostkey /etc/ssh/ssh_host_ed25519_key"]);
    const shadow = await ssh(["getent", "shadow", "root"]);
    expect(shadow.out.split(":")[1]).toMatch(/^[*!]/);
    const noKey = await ssh(["true"], ["-o", "PubkeyAuthentication=no"]);
    expect(noKey.code).toBe(255);
    expect(noKey.err).toContain("Permission denied");
  }, SLOW);

  test("ports are forwarded on 127.0.0.1 only, and Caddy answers on the http port", async () => {
    const listening = await sh(["ss", "-H", "-ltnp"]);
    const qemu = listening.out.split("\n").filter((l) => l.includes(`pid=${info.pid},`));
    const addrs = qemu.map((l) => l.split(/\s+/)[3]).sort();
    expect(addrs).toEqual([info.sshPort, info.httpPort, info.httpsPort, ...(info.probePort ? [info.probePort] : [])].map((p) => `127.0.0.1:${p}`).sort());
    const curl = await sh(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${info.httpPort}/`]);
    expect(curl.out).toBe("200");
  }, SLOW);

  test("up again returns at once with the same VM", async () => {
    const t0 = performance.now();
    const again = await sandboxUp(opts);
    times.upAgain = seconds(t0);
    expect(again.pid).toBe(info.pid);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect((await sandboxStatus(opts)).running).toBe(true);
  }, SLOW);

  test("a reboot of the guest keeps its disk and comes back with ssh", async () => {
    expect((await ssh(["touch", "/root/survives-reboot"])).code).toBe(0);
    const bootId = (await ssh(["cat", "/proc/sys/kernel/random/boot_id"])).out;
    const t0 = performance.now();
    await ssh(["systemctl", "reboot"]); // the connection may drop: exit code does not matter
    let newBootId = "";
    while (performance.now() - t0 < 240_000) {
      const r = await ssh(["cat", "/proc/sys/kernel/random/boot_id"]);
      if (r.code === 0 && r.out !== bootId) {
        newBootId = r.out;
        break;
      }
      await Bun.sleep(1000);
    }
    times.rebootToSsh = seconds(t0);
    expect(newBootId).not.toBe("");
    expect(await ssh(["systemctl", "is-system-running", "--wait"], [])).toMatchObject({ out: "running" });
    times.rebootToRunning = seconds(t0);
    expect((await ssh(["test", "-e", "/root/survives-reboot"])).code).toBe(0);
    expect((await sandboxStatus(opts)).pid).toBe(info.pid); // the same QEMU: it reset, not exited
  }, SLOW);

  test("down stops QEMU and drops the disk; up again is a clean server", async () => {
    const pid = info.pid!;
    await sandboxDown(opts);
    const status = await sandboxStatus(opts);
    expect(status.running).toBe(false);
    expect(status.pid).toBeUndefined();
    expect(existsSync(join(status.stateDir, "overlay.qcow2"))).toBe(false);
    expect(existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("qemu")).toBe(false);
    expect(existsSync(info.identity)).toBe(true); // the key is kept

    const t0 = performance.now();
    info = await sandboxUp(opts);
    times.bootToSshSecond = seconds(t0);
    expect((await ssh(["test", "-e", "/root/survives-reboot"])).code).toBe(1);
    await sandboxDown(opts);
    expect((await sandboxStatus(opts)).running).toBe(false);
  }, SLOW);
});
