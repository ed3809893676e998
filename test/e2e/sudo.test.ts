/**
 * A deploy user other than root, on the sandbox VM: `setup --bootstrap` from root makes
 * it (key, sudoers drop-in), then push, status, logs, exec, rollback and the deploy lock all
 * run as deployer@ through `sudo -n`, and what lands on the server keeps root's owners and
 * modes. A user without passwordless sudo, or on a host without sudo, fails with one clear
 * message. (Bootstrap installs the missing sudo with apt-get: the VM needs Debian's mirror.)
 * The VM is shared with the other e2e files: this one touches only its own app and users.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanApp, get, makeProject, ok, onVm, onVmOk, qdeploy, qdeployUntil, sandbox, writeConfig } from "./harness.ts";

const MIN = 60_000;
const APP = "sudoapp"; // no prefix in common with the other suites' apps
const DOMAIN = "sudoapp.localhost";
const USER = "deployer";
let vm: SandboxInfo;
let dir: string;


/** The harness's deploy.toml, for this suite's app, logging in as `user`. */
function configure(stamp: string, user = USER): void {
  writeConfig(dir, vm, { stamp, workers: 1 });
  const file = path.join(dir, "deploy.toml");
  const toml = readFileSync(file, "utf8")
    .replace('app = "hello"', `app = "${APP}"`)
    .replace("[build]\n", '[build]\nbinary = "hello"\n') // the Procfile's commands name it
    .replace('domains = ["hello.localhost"]', `domains = ["${DOMAIN}"]`)
    .replace(`"root@127.0.0.1:${vm.sshPort}"`, `"${user}@127.0.0.1:${vm.sshPort}"`);
  writeFileSync(file, toml);
}

const vmSh = (script: string) => onVmOk(vm, script);

beforeAll(async () => {
  vm = await sandbox();
  dir = makeProject(APP);
  // This suite's own state only: its app, its users, their sudoers drop-ins.
  await onVm(vm, [
    "bash",
    "-c",
    `for u in ${USER} nosudo; do userdel -rf $u 2>/dev/null; rm -f /etc/sudoers.d/qdeploy-$u; done; true`,
  ]);
  await cleanApp(vm, APP);
}, 10 * MIN);

describe("a deploy user with sudo", () => {
  test("a login without passwordless sudo fails with one message saying what to do", async () => {
    const pub = readFileSync(`${vm.identity}.pub`, "utf8").trim();
    await vmSh(`useradd -m -s /bin/bash -p '*' nosudo && install -d -m 700 -o nosudo -g nosudo ~nosudo/.ssh && printf '%s\\n' '${pub}' > ~nosudo/.ssh/authorized_keys && chown nosudo: ~nosudo/.ssh/authorized_keys`);
    configure("v1", "nosudo");
    for (const args of [["push", "sandbox"], ["status", "sandbox"]]) {
      const r = await qdeploy(dir, args);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(
        `error: nosudo@127.0.0.1:${vm.sshPort}: user nosudo cannot run commands as root without a password (sudo -n: a password is required); ` +
          'run `qdeploy setup sandbox --bootstrap` once (it logs in as root and sets nosudo up), or add the line "nosudo ALL=(root) NOPASSWD: ALL" to /etc/sudoers.d/qdeploy-nosudo with visudo -f',
      );
    }
    expect(await vmSh(`test -e /srv/qdeploy/${APP} && echo touched || echo untouched`)).toBe("untouched\n");
  }, 2 * MIN);

  test("on a host without sudo, a login other than root is told so", async () => {
    // Removed, not purged: its conffiles stay; bootstrap (next) installs it again.
    // sudo's prerm refuses without SUDO_FORCE_REMOVE when root has no password.
    await vmSh("SUDO_FORCE_REMOVE=yes DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq sudo >/dev/null; ! command -v sudo");
    const r = await qdeploy(dir, ["status", "sandbox"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `error: nosudo@127.0.0.1:${vm.sshPort}: sudo is not installed on this host, and user nosudo is not root; ` +
        'run `qdeploy setup sandbox --bootstrap` once (it logs in as root and sets nosudo up), or add the line "nosudo ALL=(root) NOPASSWD: ALL" to /etc/sudoers.d/qdeploy-nosudo with visudo -f',
    );
  }, 2 * MIN);

  test("setup --bootstrap from root installs sudo, creates the user, its key and a checked sudoers drop-in; again, changes nothing", async () => {
    configure("v1");
    const first = ok(await qdeploy(dir, ["setup", "sandbox", "--bootstrap"]));
    const label = `${USER}@127.0.0.1:${vm.sshPort}`;
    expect(first.stdout).toContain(`${label} installed sudo\n`); // apt-get, from Debian's mirror
    expect(first.stdout).toContain(`${label} created user ${USER}\n`);
    expect(first.stdout).toContain(`${label} /home/${USER}/.ssh/authorized_keys: 1 key(s) added\n`);
    expect(first.stdout).toContain(`${label} wrote /etc/sudoers.d/qdeploy-${USER}\n`);
    expect(first.stdout).toContain(`${label} ready for ${APP}`);
    expect(await vmSh(`stat -c '%a %U:%G %n' /etc/sudoers.d/qdeploy-${USER} /home/${USER}/.ssh /home/${USER}/.ssh/authorized_keys; cat /etc/sudoers.d/qdeploy-${USER}; ls -a /etc/sudoers.d`)).toBe(
      [
        `440 root:root /etc/sudoers.d/qdeploy-${USER}`,
        `700 ${USER}:${USER} /home/${USER}/.ssh`,
        `600 ${USER}:${USER} /home/${USER}/.ssh/authorized_keys`,
        `${USER} ALL=(root) NOPASSWD: ALL`,
        ".",
        "..",
        "README",
        `qdeploy-${USER}`,
        "",
      ].join("\n"),
    );
    const again = ok(await qdeploy(dir, ["setup", "sandbox", "--bootstrap"]));
    expect(again.stdout).toContain(`${label} user ${USER} exists\n`);
    expect(again.stdout).toContain(`${label} /home/${USER}/.ssh/authorized_keys: 0 key(s) added\n`);
    expect(again.stdout).toContain(`${label} /etc/sudoers.d/qdeploy-${USER} unchanged\n`);
    expect(again.stdout).not.toContain("installed sudo");
    expect(await vmSh(`wc -l < /home/${USER}/.ssh/authorized_keys`)).toBe("1\n");
  }, 8 * MIN);

  test("push as deployer@ serves over HTTPS; what it wrote is root's, the env file 0600", async () => {
    configure("v1");
    const r = ok(await qdeploy(dir, ["push", "sandbox"]));
    expect(r.stdout).toContain(`https://${DOMAIN}:${vm.httpsPort}/`);
    expect(await get(vm, "/", DOMAIN)).toEqual({ status: 200, body: "hello from v1\n" });
    const root = `/srv/qdeploy/${APP}`;
    // Nothing qdeploy put on the server belongs to the login user.
    expect(await vmSh(`find ${root} /etc/caddy/qdeploy/${APP}.caddy /etc/systemd/system/${APP}-* -user ${USER} -o -group ${USER}`)).toBe("");
    expect(await vmSh(`stat -c '%a %U:%G' ${root}/current/env ${root}/switch /etc/systemd/system/${APP}-web@.service /etc/caddy/qdeploy/${APP}.caddy ${root}/current/bin/hello`)).toBe(
      ["600 root:root", "755 root:root", "644 root:root", "644 root:root", "755 root:root", ""].join("\n"),
    );
    expect(await vmSh(`tail -n 1 ${root}/audit.log`)).toContain("activate");
  }, 5 * MIN);

  test("status, logs and exec work as deployer@", async () => {
    const st = ok(await qdeploy(dir, ["status", "sandbox", "--json"]));
    const [s] = JSON.parse(st.stdout).hosts;
    expect(s.health).toBe("ok");
    expect(s.units.filter((u: { active: string }) => u.active === "active").map((u: { unit: string }) => u.unit)).toContain(`${APP}-worker@1.service`);
    const logs = ok(await qdeploy(dir, ["logs", "sandbox", "web", "-n", "50"]));
    expect(logs.stdout).toMatch(new RegExp(`^${USER}@127\\.0\\.0\\.1:${vm.sshPort} .*listening`, "m"));
    const ex = ok(await qdeploy(dir, ["exec", "sandbox", "--", "sh", "-c", 'echo "$LOG_LEVEL $(id -un) $QDEPLOY_APP"']));
    expect(ex.stdout.trim()).toBe(`info ${APP} ${APP}`);
  }, 2 * MIN);

  test("logs -f streams through sudo until stopped", async () => {
    const seen = await qdeployUntil(dir, ["logs", "sandbox", "worker", "-f", "-n", "1"], /worker \d tick/);
    expect(seen).toMatch(new RegExp(`^${USER}@127\\.0\\.0\\.1:${vm.sshPort} .*worker \\d tick`, "m"));
  }, MIN);

  test("a second release, then rollback, as deployer@", async () => {
    configure("v2");
    ok(await qdeploy(dir, ["push", "sandbox"]));
    expect((await get(vm, "/", DOMAIN)).body).toBe("hello from v2\n");
    const rb = ok(await qdeploy(dir, ["rollback", "sandbox"]));
    expect(rb.stdout).toContain("rolling back");
    expect((await get(vm, "/", DOMAIN)).body).toBe("hello from v1\n");
  }, 5 * MIN);

  test("the deploy lock, taken through sudo, ends with the SSH connection", async () => {
    const { connectSsh } = await import("../../src/remote/ssh.ts");
    const { acquireLock } = await import("../../src/remote/host-ops.ts");
    const host = { user: USER, host: "127.0.0.1", port: vm.sshPort, label: "lock-test" };
    const remote = await connectSsh(host, { identity: vm.identity, knownHosts: vm.knownHosts, hostKey: "strict" });
    await acquireLock(remote, APP, "the-sudo-test", 5);
    expect(ok(await qdeploy(dir, ["lock", "status", "sandbox"])).stdout).toContain("held by the-sudo-test");
    // The connection goes away without unlocking: the lock's shell (under sudo) must see it.
    await remote.close();
    let status = "";
    for (let i = 0; i < 20 && !status.includes("free"); i++) {
      status = ok(await qdeploy(dir, ["lock", "status", "sandbox"])).stdout;
      if (!status.includes("free")) await Bun.sleep(500);
    }
    expect(status).toContain("free");
    // No lock shell left, nor the sudo above it (ps's own line names neither).
    const ps = (await onVm(vm, ["ps", "-eo", "args="])).stdout.split("\n");
    expect(ps.filter((l) => l.includes(`lock ${APP} hold`))).toEqual([]);
  }, 2 * MIN);
});
