/**
 * Validation and hardening on the real sandbox VM (issue 8, items 4, 7, 9, 12): fractional
 * durations that switch, Caddy's admin API out of the apps' reach, the hardened units'
 * `systemd-analyze security` score, a truncated release.json, and setup's nftables policy
 * seen from outside the VM, sshd's ListenAddress ports kept across a reboot (issue 21, item 3).
 * Own app "hard"; tests build on each other, in order.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { PROBE_GUEST_PORT } from "../../src/sandbox/qemu.ts";
import { cleanApp, get, makeProject, ok, onVm, onVmOk, powerCycle, qdeploy, sandbox, writeConfig } from "./harness.ts";

const MIN = 60_000;
const APP = "hard";
const DOMAIN = "hard.localhost";
let vm: SandboxInfo;
let dir: string;

const vmOk = (script: string) => onVmOk(vm, script);

/** The harness's config for app "hard" (binary hello), every duration key with a fraction. */
function writeHardConfig(stamp: string): void {
  writeConfig(dir, vm, { stamp, healthTimeout: "20.5s" });
  const file = path.join(dir, "deploy.toml");
  const text = readFileSync(file, "utf8")
    .replace('app = "hello"', `app = "${APP}"`)
    .replace("[build]\n", '[build]\nbinary = "hello"\n')
    .replace('domains = ["hello.localhost"]', `domains = ["${DOMAIN}"]`)
    .replace('drain = "20s"', 'drain = "1.5s"')
    .replace('jitter = "15m"', 'jitter = "0.5s"')
    .replace('at = "hourly"', 'at = "hourly"\njitter = "250ms"\ntimeout = "90.5s"\n\n[[jobs]]\nname = "hang"\ncommand = "/bin/sleep 600"\nat = "yearly"\ntimeout = "2.5s"');
  writeFileSync(file, text);
}

/** An HTTP GET of 127.0.0.1:PORT from this machine (outside the VM); the status, or an error text. */
async function fromOutside(port: number): Promise<string> {
  const p = Bun.spawn(["curl", "-s", "-o", "/dev/null", "--max-time", "5", "-w", "%{http_code}", `http://127.0.0.1:${port}/`], { stdout: "pipe", stderr: "pipe" });
  const [out] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return out.trim() === "000" ? `no answer (curl exit ${p.exitCode})` : out.trim();
}

const livePort = async () => Number((await vmOk(`cat /srv/qdeploy/${APP}/live-slot`)).trim());

/**
 * The sshd drop-in of the ListenAddress test: sshd on 22 (which the harness and every other
 * suite use) and on PROBE_GUEST_PORT, each port given by its ListenAddress, so `sshd -T` prints
 * `port 22` and `listenaddress 0.0.0.0:8999`, never `port 8999`.
 */
const LISTEN_DROP_IN = "/etc/ssh/sshd_config.d/qdeploy-e2e-listen.conf";
/** Removes the drop-in (a run stopped half-way may have left it) and reloads the firewall without its port. */
const dropListenPort = `if [ -e ${LISTEN_DROP_IN} ]; then rm -f ${LISTEN_DROP_IN}; systemctl restart ssh; if [ -x /etc/qdeploy/firewall/apply ]; then /etc/qdeploy/firewall/apply; fi; fi`;

beforeAll(async () => {
  vm = await sandbox();
  dir = makeProject(APP);
  // Only this suite's app and the firewall's probe listener: other suites' apps stay.
  await onVm(vm, ["bash", "-c", `systemctl stop ${APP}-probe.service 2>/dev/null; ${dropListenPort}; true`]);
  await cleanApp(vm, APP);
}, 10 * MIN);

describe("fractional durations", () => {
  test("a push with drain 1.5s, health_timeout 20.5s, jitters 0.5s/250ms, job timeout 90.5s switches and serves", async () => {
    writeHardConfig("v1");
    ok(await qdeploy(dir, ["check", "sandbox"]));
    const r = ok(await qdeploy(dir, ["push", "sandbox"]));
    expect(r.stderr).not.toContain("syntax error");
    expect(await get(vm, "/", DOMAIN)).toEqual({ status: 200, body: "hello from v1\n" });
    const conf = await vmOk(`cat /srv/qdeploy/${APP}/current/switch.conf`);
    expect(conf).toContain("\nHEALTH_TIMEOUT=21\n");
    const port = await livePort();
    // systemd read the spans as written: 1.5 s, 500 ms, 250 ms, 90.5 s.
    const shown = await vmOk(
      `systemctl show -P TimeoutStopUSec ${APP}-web@${port}.service; systemctl show -P RandomizedDelayUSec ${APP}-restart.timer; ` +
        `systemctl show -P RandomizedDelayUSec ${APP}-job-cleanup.timer; systemctl show -P TimeoutStartUSec ${APP}-job-cleanup.service`,
    );
    expect(shown.trim().split("\n")).toEqual(["1.500000s", "500ms", "250ms", "1min 30.500000s"]);
  }, 5 * MIN);

  test("every installed unit verifies on the VM with no output", async () => {
    const port = await livePort();
    const units = [`${APP}-web@${port}.service`, `${APP}-worker@1.service`, `${APP}-restart.service`, `${APP}-restart.timer`, `${APP}-job-cleanup.service`, `${APP}-job-cleanup.timer`, `${APP}-job-hang.service`, `${APP}-job-hang.timer`, `${APP}-usage.service`, `${APP}-usage.timer`];
    const r = await onVm(vm, ["systemd-analyze", "verify", ...units]);
    expect(`${r.stdout}${r.stderr}`).toBe("");
    expect(r.code).toBe(0);
  }, MIN);
});

describe("a job's timeout", () => {
  test("a hung run is stopped after jobs.timeout (2.5s), so its timer can fire again", async () => {
    const t = performance.now();
    const r = await onVm(vm, ["systemctl", "start", `${APP}-job-hang.service`]);
    const seconds = (performance.now() - t) / 1000;
    expect(r.code).not.toBe(0);
    expect((await vmOk(`systemctl show -P Result ${APP}-job-hang.service`)).trim()).toBe("timeout");
    expect(seconds).toBeLessThan(30);
    console.log(`hung job stopped after ${seconds.toFixed(1)}s (timeout 2.5s, over ssh)`);
  }, 2 * MIN);
});

describe("Caddy's admin API", () => {
  test("listens on a unix socket only root and caddy reach; not on TCP 2019", async () => {
    expect(await vmOk("ss -Hltn 'sport = :2019'")).toBe("");
    expect((await vmOk("stat -c '%a %U' /run/caddy /run/caddy/admin.sock")).trim().split("\n")).toEqual(["700 caddy", "700 caddy"]);
    // Root (the switch) can: the push above loaded the site this way. Again, directly:
    await vmOk("caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile --address unix//run/caddy/admin.sock");
  }, MIN);

  test("the app's dynamic user cannot reach it, by the socket or by TCP", async () => {
    const viaSocket = await qdeploy(dir, ["exec", "sandbox", "--", "caddy", "reload", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile", "--address", "unix//run/caddy/admin.sock"]);
    expect(viaSocket.code).not.toBe(0);
    expect(viaSocket.stdout + viaSocket.stderr).toContain("permission denied");
    const viaTcp = await qdeploy(dir, ["exec", "sandbox", "--", "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/2019 && echo connected"]);
    expect(viaTcp.stdout).not.toContain("connected");
    expect(viaTcp.code).not.toBe(0);
  }, MIN);

  test("a changed site (a second domain) is loaded through the socket, and served", async () => {
    writeHardConfig("v1");
    const file = path.join(dir, "deploy.toml");
    writeFileSync(file, readFileSync(file, "utf8").replace(`domains = ["${DOMAIN}"]`, `domains = ["${DOMAIN}", "www.${DOMAIN}"]`));
    const r = ok(await qdeploy(dir, ["push", "sandbox"]));
    expect(r.stdout + r.stderr).toContain("caddy loaded the site");
    expect((await get(vm, "/", `www.${DOMAIN}`)).status).toBe(200);
  }, 5 * MIN);
});

describe("hardened units", () => {
  test("systemd-analyze security scores the web unit well below the 3.2 it had", async () => {
    const port = await livePort();
    const out = await vmOk(`systemd-analyze security --no-pager ${APP}-web@${port}.service`);
    const score = Number(out.match(/Overall exposure level for \S+: ([\d.]+)/)?.[1]);
    console.log(`systemd-analyze security ${APP}-web@${port}.service: ${score}`);
    expect(score).toBeLessThanOrEqual(1.2);
    // And the app still serves with the syscall filter in place.
    expect((await get(vm, "/", DOMAIN)).status).toBe(200);
  }, MIN);
});

describe("a truncated release.json", () => {
  test("is skipped with a warning naming host and release; the push goes on", async () => {
    const first = (await vmOk(`ls /srv/qdeploy/${APP}/releases | head -1`)).trim();
    await vmOk(`head -c 30 /srv/qdeploy/${APP}/releases/${first}/release.json > /tmp/t && mv /tmp/t /srv/qdeploy/${APP}/releases/${first}/release.json`);
    writeHardConfig("v2");
    const r = ok(await qdeploy(dir, ["push", "sandbox"]));
    expect(r.stderr).toContain(`warning: root@127.0.0.1:${vm.sshPort}: release ${first} has an unreadable release.json`);
    expect(await get(vm, "/", DOMAIN)).toEqual({ status: 200, body: "hello from v2\n" });
    const list = ok(await qdeploy(dir, ["releases", "sandbox"]));
    expect(list.stderr).toContain(`release ${first} has an unreadable release.json`);
  }, 5 * MIN);
});

describe("the firewall, seen from outside the VM", () => {
  test("a listener on 0.0.0.0 is reachable before the policy, dropped after; 22, 80 and 443 keep working", async () => {
    if (!vm.probePort) throw new Error("the sandbox has no probe port: start it with QDEPLOY_SANDBOX_PROBE_PORT=PORT (qdeploy sandbox down first)");
    // What a Heroku-style app bound to :$PORT looks like: a listener on every address.
    await vmOk(`systemctl stop ${APP}-probe.service 2>/dev/null; systemd-run --unit=${APP}-probe -p DynamicUser=yes caddy respond --listen :${PROBE_GUEST_PORT} --body probe`);
    await vmOk("nft delete table inet qdeploy 2>/dev/null; true");
    // systemd-run returns once the unit has started, not once Caddy listens: wait for it.
    let before = "";
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await Bun.sleep(500)) {
      before = await fromOutside(vm.probePort);
      if (before === "200") break;
    }
    expect(before).toBe("200");

    const r = ok(await qdeploy(dir, ["setup", "sandbox"]));
    expect(r.stdout + r.stderr).toContain("firewall: inbound TCP 22, 80, 443");
    expect(await fromOutside(vm.probePort)).toStartWith("no answer");
    expect((await get(vm, "/", DOMAIN)).status).toBe(200);
    expect(await fromOutside(vm.httpPort)).toMatch(/^30[18]$/); // Caddy's redirect to HTTPS
    expect((await onVm(vm, ["true"])).code).toBe(0);
    // Inside the VM, loopback is untouched: the listener still answers there.
    expect((await vmOk(`curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${PROBE_GUEST_PORT}/`)).trim()).toBe("200");
  }, 5 * MIN);

  test("the policy comes back after a reboot", async () => {
    // A boot of the emulated VM on a loaded machine can take minutes.
    process.env.QDEPLOY_SANDBOX_TIMEOUT ??= "480";
    vm = await powerCycle(vm);
    expect(await vmOk("systemctl is-active qdeploy-firewall.service")).toBe("active\n");
    expect(await vmOk("nft list table inet qdeploy")).toContain("policy drop;");
    await vmOk(`systemd-run --unit=${APP}-probe -p DynamicUser=yes caddy respond --listen :${PROBE_GUEST_PORT} --body probe`);
    // It answers inside the VM, so "no answer" from outside is the policy, not a listener still starting.
    await vmOk(`for i in $(seq 120); do [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${PROBE_GUEST_PORT}/)" = 200 ] && exit 0; sleep 0.5; done; exit 1`);
    expect(await fromOutside(vm.probePort!)).toStartWith("no answer");
    let page = { status: 0, body: "" };
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await Bun.sleep(500)) {
      page = await get(vm, "/", DOMAIN);
      if (page.status === 200) break;
    }
    expect(page.status).toBe(200);
  }, 10 * MIN);
});

// Issue 21, item 3: with sshd's port from `ListenAddress 0.0.0.0:PORT`, setup over that port
// worked (the session's port is admitted) but at boot the policy admitted only `port` lines'
// ports, locking SSH on PORT out. The VM's ports are forwarded from this machine by QEMU
// (127.0.0.1:probePort -> guest 8999, src/sandbox/qemu.ts), so sshd listens on 8999 as well as
// on 22, and this test logs in through the probe port: those packets reach the guest on its
// NIC (from 10.0.2.2, QEMU's user network), where the policy applies. (A connection from
// inside the VM to its own 10.0.2.15 goes over lo, which the policy always admits: it would
// prove nothing.) Port 22 stays up throughout, so the harness and later suites keep working.
describe("the firewall keeps sshd's ListenAddress ports across a reboot", () => {
  /** known_hosts for the probe port: the sandbox's own host key (the same sshd), under that port. */
  function probeKnownHosts(): string {
    const want = vm.sshPort === 22 ? "127.0.0.1 " : `[127.0.0.1]:${vm.sshPort} `;
    const line = readFileSync(vm.knownHosts, "utf8").split("\n").find((l) => l.startsWith(want));
    if (!line) throw new Error(`no line for ${want.trim()} in ${vm.knownHosts}`);
    const file = path.join(mkdtempSync(path.join(tmpdir(), "qdeploy-e2e-listen-")), "known_hosts");
    writeFileSync(file, `[127.0.0.1]:${vm.probePort} ${line.slice(want.length)}\n`);
    return file;
  }
  /** Over SSH through the probe port (sshd's ListenAddress port): the session's SSH_CONNECTION, or the failure. */
  async function sshThroughListenPort(knownHosts: string): Promise<string> {
    const r = await onVm({ ...vm, sshPort: vm.probePort!, knownHosts }, ["printenv", "SSH_CONNECTION"]);
    return r.code === 0 ? r.stdout.trim() : `ssh exit ${r.code}: ${r.stderr.trim()}`;
  }
  /** The TCP ports in setup's `firewall: inbound TCP ...` line or the table's `tcp dport { ... }`, sorted. */
  const portsIn = (text: string, re: RegExp) => (re.exec(text)?.[1] ?? "").split(", ").filter(Boolean).map(Number).sort((a, b) => a - b);
  // "10.0.2.2 PORT 10.0.2.15 8999": in through the NIC, to sshd's ListenAddress port.
  const throughNic = new RegExp(`^10\\.0\\.2\\.2 \\d+ \\S+ ${PROBE_GUEST_PORT}$`);

  test("sshd on ListenAddress 0.0.0.0:8999 beside 22: setup through 8999, reboot, ssh through 8999 still works", async () => {
    if (!vm.probePort) throw new Error("the sandbox has no probe port: start it with QDEPLOY_SANDBOX_PROBE_PORT=PORT (qdeploy sandbox down first)");
    const knownHosts = probeKnownHosts();
    try {
      // The earlier tests' listener holds 8999; sshd takes it now.
      await vmOk(`systemctl stop ${APP}-probe.service 2>/dev/null; true`);
      await vmOk(
        `printf '%s\\n' 'ListenAddress 0.0.0.0:22' 'ListenAddress [::]:22' 'ListenAddress 0.0.0.0:${PROBE_GUEST_PORT}' > ${LISTEN_DROP_IN}; ` +
          `sshd -t || { rm -f ${LISTEN_DROP_IN}; exit 1; }; systemctl restart ssh`,
      );
      const dumped = await vmOk("sshd -T | grep -E '^(port|listenaddress) '");
      expect(dumped).toContain(`listenaddress 0.0.0.0:${PROBE_GUEST_PORT}\n`);
      expect(dumped).toMatch(/^port 22$/m);
      expect(dumped).not.toMatch(new RegExp(`^port ${PROBE_GUEST_PORT}$`, "m")); // only a listenaddress line names it
      // The earlier tests' policy drops 8999: start from none, as a fresh host would.
      await vmOk("nft delete table inet qdeploy 2>/dev/null; true");
      let before = "";
      for (let i = 0; i < 20 && !throughNic.test(before); i++) {
        before = await sshThroughListenPort(knownHosts);
        if (!throughNic.test(before)) await Bun.sleep(500);
      }
      expect(before).toMatch(throughNic);

      // setup over the ListenAddress port, as a user whose sshd listens only there would run it.
      // Without this app's ports file setup loads the policy again (nothing else changed).
      await vmOk(`rm -f /etc/qdeploy/firewall/${APP}.ports`);
      appendFileSync(
        path.join(dir, "deploy.toml"),
        `\n[environments.listen]\nhosts = ["root@127.0.0.1:${vm.probePort}"]\n` +
          `ssh = { identity = ${JSON.stringify(vm.identity)}, known_hosts = ${JSON.stringify(knownHosts)} }\n`,
      );
      const r = ok(await qdeploy(dir, ["setup", "listen"]));
      // (The old script admitted 8999 here too: it is this session's port.)
      expect(portsIn(r.stdout + r.stderr, /firewall: inbound TCP ([\d, ]+)/)).toEqual(expect.arrayContaining([22, 80, 443, PROBE_GUEST_PORT]));
      expect(await sshThroughListenPort(knownHosts)).toMatch(throughNic);

      // At boot no session's port is added: only what the script reads from sshd -T.
      process.env.QDEPLOY_SANDBOX_TIMEOUT ??= "480"; // a TCG boot on a loaded machine can take minutes
      vm = await powerCycle(vm);
      expect(await vmOk("systemctl is-active qdeploy-firewall.service")).toBe("active\n");
      expect(await vmOk(`ss -Hltn 'sport = :${PROBE_GUEST_PORT}'`)).toContain(`0.0.0.0:${PROBE_GUEST_PORT}`);
      const table = await vmOk("nft list table inet qdeploy");
      expect(table).toContain("policy drop;");
      expect(portsIn(table, /tcp dport \{ ([\d, ]+) \} accept/)).toEqual(expect.arrayContaining([22, 80, 443, PROBE_GUEST_PORT]));
      expect(await sshThroughListenPort(knownHosts)).toMatch(throughNic);
    } finally {
      // sshd back on 22 only, and a policy without 8999, whatever happened above.
      await onVm(vm, ["bash", "-c", dropListenPort]);
    }
  }, 15 * MIN);
});
