/**
 * `qdeploy serve --install` on the sandbox VM (issue 11, item 6): the compiled qdeploy as the
 * hardened qdeploy-serve.service behind the VM's Caddy at [serve].domain with tls internal.
 * Own app "servd"; the server's files are removed first, so the first install is a first one.
 * Tests build on each other, in order. (Pushes from the installed server are not tried: the
 * environment's host, 127.0.0.1:PORT, is this machine's forward, which the VM cannot reach.)
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { $ } from "zx";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanApp, get, makeProject, ok, onVmOk, qdeploy, sandbox, writeConfig } from "./harness.ts";

const MIN = 60_000;
const APP = "servd";
const DOMAIN = "deploy.localhost";
let vm: SandboxInfo;
let dir: string;
let token = "";
let publicKey = "";

/** GET https://deploy.localhost/PATH through the VM's Caddy, with a bearer token or none; the status. */
async function api(urlPath: string, bearer?: string): Promise<number> {
  const auth = bearer ? ["-H", `Authorization: Bearer ${bearer}`] : [];
  const r = await $({ nothrow: true, quiet: true })`curl -sSk -o /dev/null -w %{http_code} --max-time 30 --resolve ${`${DOMAIN}:${vm.httpsPort}:127.0.0.1`} ${auth} ${`https://${DOMAIN}:${vm.httpsPort}${urlPath}`}`;
  return Number(r.stdout.trim()) || 0;
}

beforeAll(async () => {
  vm = await sandbox();
  dir = makeProject(APP);
  writeConfig(dir, vm, { app: APP, extra: `\n[serve]\ndomain = "${DOMAIN}"\ntls = "internal"\nlisten = "127.0.0.1:7070"\n` });
  // The server runs from a checkout of HEAD, with origin as webhook deploys' remote.
  await $({ cwd: dir, quiet: true })`git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm app && git remote add origin https://example.com/servd.git`;
  await cleanApp(vm, APP);
  await onVmOk(
    vm,
    "systemctl disable --now qdeploy-serve.service 2>/dev/null; rm -rf /var/lib/qdeploy-serve /usr/local/lib/qdeploy-serve /etc/systemd/system/qdeploy-serve.service /etc/caddy/qdeploy/qdeploy-serve.caddy; " +
      "systemctl daemon-reload; userdel qdeploy-serve 2>/dev/null; true",
  );
}, 10 * MIN);

describe("serve --install", () => {
  test("installs the server: the URL, a deploy token once, the server's key; a warning that the host has no Go", async () => {
    const r = ok(await qdeploy(dir, ["serve", "--install", "sandbox"]));
    console.log(`serve --install (first): ${r.seconds.toFixed(1)} s`);
    // What it sent and did (not the whole output: that has the token).
    for (const l of `${r.stdout}${r.stderr}`.split("\n").filter((l) => /upload|checked out|installed git|Caddy serves/.test(l))) console.log(`  ${l}`);
    expect(r.stdout).toContain(`https://${DOMAIN}/`);
    token = /qdp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}/.exec(r.stdout)?.[0] ?? "";
    expect(token).not.toBe("");
    publicKey = /the server's ssh key \(in each host's authorized_keys\): (ssh-ed25519 \S+)/.exec(r.stdout)?.[1] ?? "";
    expect(publicKey).toStartWith("ssh-ed25519 ");
    expect(r.stdout + r.stderr).toContain("uploading the qdeploy executable");
    expect(r.stderr).toContain("go is not installed on the server's host");
  }, 15 * MIN);

  test("https://deploy.localhost/healthz answers 200 through Caddy; the API wants the token", async () => {
    expect(await get(vm, "/healthz", DOMAIN)).toEqual({ status: 200, body: '{"ok":true}' });
    expect(await api("/api/v1/environments")).toBe(401);
    expect(await api("/api/v1/environments", "qdp_00000000_" + "x".repeat(43))).toBe(401);
    expect(await api("/api/v1/environments", token)).toBe(200);
  }, MIN);

  test("runs as qdeploy-serve, from its checkout with origin set, its key in the host's authorized_keys", async () => {
    const user = await onVmOk(vm, "ps -o user= -p $(systemctl show -P MainPID qdeploy-serve.service)");
    expect(user.trim()).toBe("qdeploy-serve");
    expect((await onVmOk(vm, "runuser -u qdeploy-serve -- git -C /var/lib/qdeploy-serve/repo remote get-url origin")).trim()).toBe("https://example.com/servd.git");
    expect(await onVmOk(vm, "cat /root/.ssh/authorized_keys")).toContain(publicKey);
    expect((await onVmOk(vm, "stat -c '%U %a' /var/lib/qdeploy-serve/tokens.json")).trim()).toBe("qdeploy-serve 600");
  }, MIN);

  test("systemd-analyze security rates the unit below 5", async () => {
    const out = await onVmOk(vm, "systemd-analyze security --no-pager qdeploy-serve.service");
    const score = Number(out.match(/Overall exposure level for \S+: ([\d.]+)/)?.[1]);
    console.log(`systemd-analyze security qdeploy-serve.service: ${score}`);
    expect(score).toBeLessThan(5);
  }, MIN);

  test("a second install uploads nothing, makes no token, and changes nothing", async () => {
    const r = ok(await qdeploy(dir, ["serve", "--install", "sandbox"]));
    console.log(`serve --install (again): ${r.seconds.toFixed(1)} s`);
    expect(r.stdout + r.stderr).not.toContain("uploading");
    expect(r.stdout).not.toMatch(/qdp_[0-9a-f]{8}_/);
    expect(r.stdout + r.stderr).toContain("nothing changed");
    expect(await api("/api/v1/environments", token)).toBe(200);
  }, 10 * MIN);

  test("without [serve].domain it refuses, naming the key (exit 2)", async () => {
    writeConfig(dir, vm, { app: APP });
    const r = await qdeploy(dir, ["serve", "--install", "sandbox"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("serve.domain: required for `qdeploy serve --install`");
  }, MIN);
});
