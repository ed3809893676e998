/**
 * The sandbox VM, for real: builds (or reuses) the image, boots QEMU, logs in with the system
 * ssh client pinned to the written known_hosts, checks systemd/sshd/Caddy, reboots the guest,
 * and tears it down. Slow (a TCG boot is ~30s); no mocks.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseToml } from "@iarna/toml";
import { createServer } from "node:net";
import { writeConfig, writeFleetConfig } from "./e2e/harness.ts";
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
// defaults 2222/8080/8443/8999), so it never meets that VM or another checkout's.
const own = (name: string, fallback: number) => (Number(process.env[`QDEPLOY_SANDBOX_${name}_PORT`]) || fallback) + 200;
// Its probe port too: the e2e VM of the same lane (test/run.ts) holds QDEPLOY_SANDBOX_PROBE_PORT.
const opts = { projectDir, sshPort: own("SSH", 2222), httpPort: own("HTTP", 8080), httpsPort: own("HTTPS", 8443), probePort: own("PROBE", 8999), log: (l: string) => console.log(`  [sandbox] ${l}`) };
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

// The fleet's own project and ports (VM 1 at the base + 300, VM 2 at + 301).
const fleetDir = mkdtempSync(join(tmpdir(), "qdeploy-sandbox-fleet-test-"));
const fleetBase = (name: string, fallback: number) => (Number(process.env[`QDEPLOY_SANDBOX_${name}_PORT`]) || fallback) + 300;
const fleetEnv = {
  QDEPLOY_SANDBOX_SSH_PORT: String(fleetBase("SSH", 2222)),
  QDEPLOY_SANDBOX_HTTP_PORT: String(fleetBase("HTTP", 8080)),
  QDEPLOY_SANDBOX_HTTPS_PORT: String(fleetBase("HTTPS", 8443)),
  QDEPLOY_SANDBOX_PROBE_PORT: "",
};
const QDEPLOY = join(import.meta.dir, "..", "bin", "qdeploy");

/** The real CLI in the fleet's project, on the fleet's ports. */
async function cli(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([QDEPLOY, ...args], {
    cwd: fleetDir,
    env: { ...process.env, ...fleetEnv, NO_COLOR: "1" },
    stdin: stdin === undefined ? "ignore" : new Blob([stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out: out.trim(), err: err.trim() };
}

/** Pids of QEMU processes running a disk under `dir` (zombies have no command line). */
function qemuPidsUnder(dir: string): number[] {
  return Bun.spawnSync(["pgrep", "-f", "qemu-system"]).stdout.toString().split("\n").filter(Boolean).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir);
    } catch {
      return false;
    }
  });
}

afterAll(async () => {
  await sandboxDown(opts);
  await sandboxDown({ projectDir: fleetDir });
  rmSync(projectDir, { recursive: true, force: true });
  rmSync(fleetDir, { recursive: true, force: true });
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

describe("sandbox fleet (--hosts)", () => {
  test("--hosts is an integer 1..9 and goes with up only; ssh takes a VM number", async () => {
    // (--hosts=-1: a value that starts with a dash is one only after "=")
    for (const bad of ["0", "10", "x", "1.5", "-1", ""]) {
      const r = await cli(["sandbox", "up", `--hosts=${bad}`]);
      expect(r).toMatchObject({ code: 2, err: `error: --hosts must be an integer from 1 to 9, not ${JSON.stringify(bad)}` });
    }
    expect(await cli(["sandbox", "up", "--hosts", "-1"])).toMatchObject({ code: 2, err: "error: --hosts needs a value (N) (see qdeploy help sandbox up; a value starting with - goes as --hosts=VALUE)" });
    expect(await cli(["sandbox", "down", "--hosts", "2"])).toMatchObject({ code: 2, err: expect.stringContaining('unknown option --hosts for "sandbox down"') });
    expect(await cli(["sandbox", "ssh", "0"])).toMatchObject({ code: 2, err: 'error: the VM number must be an integer from 1 to 9, not "0"' });
    expect(await cli(["sandbox", "ssh", "2"])).toMatchObject({ code: 2, err: "error: sandbox VM 2 is not running: qdeploy sandbox up --hosts 2" });
    expect(qemuPidsUnder(fleetDir)).toEqual([]);
  });

  test("a taken port of VM 2 fails the boot before any VM starts, naming the VM and the port", async () => {
    const port = Number(fleetEnv.QDEPLOY_SANDBOX_HTTPS_PORT) + 1;
    const srv = createServer();
    await new Promise<void>((res) => srv.listen(port, "127.0.0.1", res));
    try {
      const r = await cli(["sandbox", "up", "--hosts", "2"]);
      expect(r.code).toBe(1);
      expect(r.err).toContain(`port ${port} on 127.0.0.1 (sandbox VM 2's https port) is already in use`);
      expect(r.err).toContain("set QDEPLOY_SANDBOX_HTTPS_PORT (VM 2 uses it + 1)");
      expect(qemuPidsUnder(fleetDir)).toEqual([]);
    } finally {
      srv.close();
    }
  }, SLOW);

  test("a VM that dies while booting is named with its port and its console's last lines; the other VM still comes up and stays up", async () => {
    const vm2 = join(fleetDir, ".qdeploy/sandbox/vm2");
    rmSync(vm2, { recursive: true, force: true }); // an earlier run's console.log would do below
    const up = cli(["sandbox", "up", "--hosts", "2"]);
    let pid = 0;
    for (let i = 0; i < 600 && !pid; i++) {
      await Bun.sleep(100);
      // Killed once the guest has written to its console, so there are lines to show.
      const [consoleLog, pidFile] = [join(vm2, "console.log"), join(vm2, "qemu.pid")];
      if (existsSync(pidFile) && existsSync(consoleLog) && readFileSync(consoleLog, "utf8").length > 0) {
        pid = Number(readFileSync(pidFile, "utf8").trim());
      }
    }
    if (!pid) throw new Error(`VM 2 never started: ${(await up).err}`); // awaited: no VM left booting behind the test
    process.kill(pid, "SIGKILL");
    const r = await up;
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error: sandbox VM 2 (ssh 127.0.0.1:${Number(fleetEnv.QDEPLOY_SANDBOX_SSH_PORT) + 1}) did not come up: QEMU exited during boot.`);
    expect(r.err).toContain(`the serial console is in ${join(vm2, "console.log")}, last lines:\n    `);
    expect(r.out).toMatch(/sandbox VM 1 up in /);
    // VM 1 stays up for the next test (one boot fewer): only VM 2 boots there.
    expect(qemuPidsUnder(fleetDir)).toHaveLength(1);
  }, SLOW);

  test("up --hosts 2 attaches to the VM 1 that runs and boots VM 2; root reaches both with the one known_hosts; status lists both; down stops both", async () => {
    const t0 = performance.now();
    const up = await cli(["sandbox", "up", "--hosts", "2"]);
    times.fleetVm2BootToSsh = seconds(t0);
    expect(up.out).toContain("sandbox VM 1 already running");
    expect(up.err).not.toContain("error");
    expect(up.code).toBe(0);
    const [ssh1, ssh2] = [Number(fleetEnv.QDEPLOY_SANDBOX_SSH_PORT), Number(fleetEnv.QDEPLOY_SANDBOX_SSH_PORT) + 1];
    const [http1, https1] = [Number(fleetEnv.QDEPLOY_SANDBOX_HTTP_PORT), Number(fleetEnv.QDEPLOY_SANDBOX_HTTPS_PORT)];
    expect(up.out.split("\n").filter((l) => l.includes(" running: "))).toEqual([
      `sandbox VM 1 running: ssh root@127.0.0.1:${ssh1}, http 127.0.0.1:${http1}, https 127.0.0.1:${https1}, private 10.99.0.1`,
      `sandbox VM 2 running: ssh root@127.0.0.1:${ssh2}, http 127.0.0.1:${http1 + 1}, https 127.0.0.1:${https1 + 1}, private 10.99.0.2`,
    ]);

    // One host key (one image) on two ports; StrictHostKeyChecking=yes with only this file.
    const sandboxDir = join(fleetDir, ".qdeploy/sandbox");
    const knownHosts = join(sandboxDir, "known_hosts");
    const lines = readFileSync(knownHosts, "utf8").trimEnd().split("\n");
    expect(lines.map((l) => l.split(" ")[0])).toEqual([`[127.0.0.1]:${ssh1}`, `[127.0.0.1]:${ssh2}`]);
    expect(new Set(lines.map((l) => l.split(" ").slice(1).join(" "))).size).toBe(1);
    const bootIds: string[] = [];
    for (const port of [ssh1, ssh2]) {
      const r = await sh([
        "ssh", "-F", "/dev/null", "-i", join(sandboxDir, "id_ed25519"), "-o", "IdentitiesOnly=yes",
        "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
        "-p", String(port), "root@127.0.0.1", "--", "id -un; cat /proc/sys/kernel/random/boot_id",
      ]);
      expect(r).toMatchObject({ code: 0, err: "" });
      const [user, bootId] = r.out.split("\n");
      expect(user).toBe("root");
      bootIds.push(bootId!);
    }
    expect(bootIds[0]).not.toBe(bootIds[1]); // two machines, not one reached twice

    // The private network: VM 1 reaches VM 2's sshd at 10.99.0.2 (its banner), not through 127.0.0.1.
    const lan = await cli(["sandbox", "ssh", "1"], "timeout 10 bash -c 'read -r banner < /dev/tcp/10.99.0.2/22; echo \"$banner\"'\n");
    expect(lan.code).toBe(0);
    expect(lan.out.split("\n").at(-1)).toStartWith("SSH-2.0-OpenSSH");

    // `sandbox ssh 2` reaches VM 2 (a shell reading the piped commands).
    const viaCli = await cli(["sandbox", "ssh", "2"], "cat /proc/sys/kernel/random/boot_id\n");
    expect(viaCli.code).toBe(0);
    expect(viaCli.out.split("\n").at(-1)).toBe(bootIds[1]!);

    const status = await cli(["sandbox", "status"]);
    expect(status.code).toBe(0);
    expect(status.out.split("\n").map((l) => l.replace(/pid \d+/, "pid N"))).toEqual([
      `VM 1 running (pid N): ssh 127.0.0.1:${ssh1}, https 127.0.0.1:${https1}`,
      `VM 2 running (pid N): ssh 127.0.0.1:${ssh2}, https 127.0.0.1:${https1 + 1}`,
    ]);
    const pids = qemuPidsUnder(fleetDir);
    expect(pids).toHaveLength(2);

    const down = await cli(["sandbox", "down"]);
    // Plain checks: bun 1.4.5's toMatchObject with expect.stringMatching replaces down.out with the matcher.
    expect(down.code).toBe(0);
    expect(down.out).toEndWith("\nsandbox down");
    expect(down.out).toContain(`sandbox stopped (pid `);
    expect(down.out).toContain(`sandbox VM 2 stopped (pid `);
    expect(qemuPidsUnder(fleetDir)).toEqual([]);
    expect(await cli(["sandbox", "status"])).toMatchObject({ code: 1, out: "not running" });
    expect(existsSync(join(sandboxDir, "vm2", "overlay.qcow2"))).toBe(false);
  }, SLOW);
});

describe("the e2e harness's fleet config", () => {
  const vm = (n: number): SandboxInfo => ({
    vm: n, running: true, sshPort: 2221 + n, httpPort: 8079 + n, httpsPort: 8442 + n, lanAddress: `10.99.0.${n}`,
    identity: "/p/.qdeploy/sandbox/id_ed25519", knownHosts: "/p/.qdeploy/sandbox/known_hosts", stateDir: "/p",
  });
  const vms = [vm(1), vm(2), vm(3)];
  const written = (f: (dir: string) => void) => {
    const dir = mkdtempSync(join(tmpdir(), "qdeploy-fleet-config-"));
    try {
      f(dir);
      return readFileSync(join(dir, "deploy.toml"), "utf8");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  test("roles name VMs by number; extra lands in the environment; the app is writeConfig's", () => {
    const text = written((d) => writeFleetConfig(d, vms, { app: "fleety", roles: { web: [1, 2], worker: [3] }, extra: 'secrets = { store = "env", names = ["A"] }\n[rollout]\nbatch = 1' }));
    const toml = parseToml(text) as Record<string, any>;
    expect(toml.environments).toEqual({
      fleet: {
        ssh: { identity: vms[0]!.identity, known_hosts: vms[0]!.knownHosts },
        secrets: { store: "env", names: ["A"] },
        roles: { web: ["root@127.0.0.1:2222", "root@127.0.0.1:2223"], worker: ["root@127.0.0.1:2224"] },
      },
    });
    expect(toml.rollout).toEqual({ batch: 1 });
    const single = parseToml(written((d) => writeConfig(d, vms[0]!, { app: "fleety" }))) as Record<string, any>;
    delete single.environments;
    delete toml.environments;
    delete toml.rollout;
    expect(toml).toEqual(single);
  });

  test("without roles every VM is a host", () => {
    const toml = parseToml(written((d) => writeFleetConfig(d, vms))) as Record<string, any>;
    expect(toml.environments.fleet.hosts).toEqual(["root@127.0.0.1:2222", "root@127.0.0.1:2223", "root@127.0.0.1:2224"]);
    expect(toml.environments.fleet.roles).toBeUndefined();
    expect(() => writeFleetConfig("/nonexistent", vms, { roles: { web: [4] } })).toThrow("writeFleetConfig: no VM 4 among 1, 2, 3");
  });
});
