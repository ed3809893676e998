/**
 * `qdeploy serve --install` on the sandbox VM (issue 11, item 6): the compiled qdeploy as the
 * hardened qdeploy-serve.service behind the VM's Caddy at [serve].domain with tls internal.
 * Own app "servd"; the server's files are removed first, so the first install is a first one.
 * Tests build on each other, in order. A push from the installed server goes to environment
 * `self`, the VM reached from itself: its sshd also listens on the forward's port.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { $ } from "zx";
import { sandboxSshArgv, type SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanApp, get, makeProject, ok, onVm, onVmOk, qdeploy, sandbox, writeConfig } from "./harness.ts";

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

/**
 * Environment `self`: the VM as the installed server reaches it (its own key and known_hosts,
 * no paths of this machine), and [serve].
 */
const SELF_AND_SERVE = () => `\n[environments.self]\nhosts = ["root@127.0.0.1:${vm.sshPort}"]\n\n[serve]\ndomain = "${DOMAIN}"\ntls = "internal"\nlisten = "127.0.0.1:7070"\n`;

/** An API call through the VM's Caddy with the deploy token: its status and JSON. */
/**
 * A request to the installed server's API. A POST push answers once it holds the deploy lock
 * (after the fetch, the checkout and the connection), which under `npm test`'s two lanes of
 * emulated VMs took over 60 s once: it gets 300 s.
 */
async function apiJson(method: string, urlPath: string, body?: object): Promise<{ status: number; json: any }> {
  const data = body ? ["-H", "content-type: application/json", "-d", JSON.stringify(body)] : [];
  const maxTime = method === "POST" ? 300 : 60;
  const r = await $({ nothrow: true, quiet: true })`curl -sSk -X ${method} --max-time ${maxTime} -w ${"\n%{http_code}"} -H ${`Authorization: Bearer ${token}`} ${data} --resolve ${`${DOMAIN}:${vm.httpsPort}:127.0.0.1`} ${`https://${DOMAIN}:${vm.httpsPort}/api/v1${urlPath}`}`;
  const at = r.stdout.lastIndexOf("\n");
  return { status: Number(r.stdout.slice(at + 1)), json: JSON.parse(r.stdout.slice(0, at) || "null") };
}

/** Runs a command on the VM with a local file as its stdin. */
async function onVmWithFile(command: string, file: string): Promise<void> {
  const p = Bun.spawn(sandboxSshArgv(vm, ["bash", "-c", command]), { stdin: Bun.file(file), stdout: "pipe", stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`on the VM: ${command}: exit ${code}: ${err}`);
}

beforeAll(async () => {
  vm = await sandbox();
  dir = makeProject(APP);
  writeConfig(dir, vm, { app: APP, extra: SELF_AND_SERVE() });
  // The server runs from a checkout of HEAD, with origin as webhook deploys' remote.
  await $({ cwd: dir, quiet: true })`git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm app && git remote add origin https://example.com/servd.git`;
  await cleanApp(vm, APP);
  await onVmOk(
    vm,
    "systemctl disable --now qdeploy-serve.service qdeploy-build.socket 2>/dev/null; rm -rf /var/lib/qdeploy-serve /usr/local/lib/qdeploy-serve /etc/systemd/system/qdeploy-serve.service /etc/systemd/system/qdeploy-build.socket /etc/systemd/system/qdeploy-build@.service /etc/caddy/qdeploy/qdeploy-serve.caddy /usr/local/go /srv/servd.git; " +
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

  test("issue 21, item 5: another user holding 127.0.0.1:7070 gets nothing; the server, restarted, still answers through Caddy on its socket", async () => {
    // An impostor, as an app would be (not root, not qdeploy-serve), on the port the server used to take.
    const impostor = `use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:7070", Listen => 5, ReuseAddr => 1) or die "bind: $!"; while (my $c = $s->accept) { print $c "HTTP/1.0 200 OK\r\n\r\nIMPOSTOR"; close $c }`;
    await onVmOk(vm, `systemd-run --quiet --uid=nobody --unit=qdeploy-e2e-impostor perl -e '${impostor}' && sleep 1 && systemctl is-active qdeploy-e2e-impostor`);
    try {
      await onVmOk(vm, "systemctl restart qdeploy-serve.service && for i in $(seq 60); do [ -S /run/qdeploy-serve/http.sock ] && exit 0; sleep 0.5; done; exit 1");
      expect(await get(vm, "/healthz", DOMAIN)).toEqual({ status: 200, body: '{"ok":true}' });
      // The folder is the server's: nobody else may put a socket (or anything) there.
      expect((await onVmOk(vm, "stat -c '%U %a' /run/qdeploy-serve /run/qdeploy-serve/http.sock")).trim().split("\n")).toEqual(["qdeploy-serve 755", "qdeploy-serve 666"]);
      const r = await onVm(vm, ["runuser", "-u", "nobody", "--", "sh", "-c", "echo > /run/qdeploy-serve/evil.sock"]);
      expect([r.code, r.stderr]).toEqual([2, expect.stringContaining("Permission denied")]);
    } finally {
      await onVmOk(vm, "systemctl stop qdeploy-e2e-impostor 2>/dev/null; true");
    }
  }, 2 * MIN);

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

  test("issue 21: a pushed commit's GOFLAGS=-toolexec runs in the build unit, as a user of its own, and reads neither key nor the tokens", async () => {
    // Go on the VM (the compiler, the linker, the standard library's sources: what a build needs).
    const goroot = (await $({ quiet: true })`go env GOROOT`).stdout.trim();
    const goTar = path.join(dir, "..", `go-${APP}.tar.zst`);
    await $({ quiet: true })`tar -C ${goroot} --exclude=src/cmd --exclude=*/testdata --exclude=*_test.go -c bin/go pkg/tool/linux_amd64/compile pkg/tool/linux_amd64/link pkg/tool/linux_amd64/asm pkg/tool/linux_amd64/cgo pkg/include go.env VERSION src | zstd -q -3 -T0 -f -o ${goTar}`;
    const tGo = performance.now();
    await onVmWithFile("rm -rf /usr/local/go && mkdir -p /usr/local/go && zstd -dc | tar -x -C /usr/local/go && /usr/local/go/bin/go version", goTar);
    console.log(`Go onto the VM (${(Bun.file(goTar).size / 1e6).toFixed(1)} MB): ${((performance.now() - tGo) / 1000).toFixed(1)} s`);
    // The VM reaches itself as environment self: sshd on the forward's port too.
    await onVmOk(vm, `printf 'Port 22\nPort ${vm.sshPort}\n' > /etc/ssh/sshd_config.d/qdeploy-e2e-self.conf && systemctl reload ssh`);
    // The commit: its [env] runs x.sh around every compile; x.sh says what it could read, tries to leave a marker, fails the build.
    const home = "/var/lib/qdeploy-serve";
    writeFileSync(
      path.join(dir, "x.sh"),
      `#!/bin/sh\nr() { cat "$1" 2>&1 | head -c 100; }\necho "TOOLEXEC-RAN uid=$(id -u) ssh=[$(r ${home}/.ssh/id_ed25519)] age=[$(r ${home}/.config/qdeploy/age-identity.txt)] tokens=[$(r ${home}/tokens.json)]" >&2\necho pwned > ${home}/.ssh/marker 2>/dev/null\nexit 1\n`,
      { mode: 0o755 },
    );
    writeConfig(dir, vm, { app: APP, env: { GOFLAGS: "-toolexec=./x.sh" }, extra: SELF_AND_SERVE() });
    const bundle = path.join(dir, "..", `attack-${APP}.bundle`);
    await $({ cwd: dir, quiet: true })`git add -A && git -c user.name=t -c user.email=t@t commit -qm attack && git branch -f attack && git bundle create -q ${bundle} attack`;
    // The server's remote: a repository on the VM holding the pushed branch.
    await onVmWithFile(`rm -rf /srv/servd.git /tmp/attack.bundle && cat > /tmp/attack.bundle && git clone -q --bare /tmp/attack.bundle /srv/servd.git && chown -R qdeploy-serve: /srv/servd.git && runuser -u qdeploy-serve -- git -C ${home}/repo remote set-url origin /srv/servd.git`, bundle);

    const tPush = performance.now();
    const started = await apiJson("POST", "/environments/self/push", { ref: "attack" });
    let run = started.json?.run;
    let error: string = started.json?.error?.message ?? "";
    for (let i = 0; run && run.state === "running" && i < 300; i++) {
      await Bun.sleep(1000);
      run = (await apiJson("GET", `/runs/${run.id}`)).json.run;
    }
    error ||= run?.error?.message ?? "";
    console.log(`toolexec push from the installed server (${((performance.now() - tPush) / 1000).toFixed(1)} s): HTTP ${started.status}; ${error.split("\n").slice(0, 3).join(" | ")}`);
    const said = /TOOLEXEC-RAN uid=(\d+) ssh=\[([^\]]*)\] age=\[([^\]]*)\] tokens=\[([^\]]*)\]/.exec(error);
    expect(said, error).not.toBeNull();
    const [, uid, ssh, age, tokens] = said!;
    expect(error).toContain("failed in the build sandbox");
    // A dynamic user (systemd's range 61184-65519), not qdeploy-serve, not root.
    expect(Number(uid)).toBeGreaterThanOrEqual(61184);
    expect(Number(uid)).not.toBe(Number((await onVmOk(vm, "id -u qdeploy-serve")).trim()));
    for (const [what, text] of [["ssh", ssh], ["age", age], ["tokens", tokens]] as const) {
      expect([what, text]).toEqual([what, expect.stringMatching(/^cat: .*: (Permission denied|No such file or directory)$/)]);
    }
    expect((await onVmOk(vm, `test -e ${home}/.ssh/marker && echo there || echo absent`)).trim()).toBe("absent");
    const out = await onVmOk(vm, "systemd-analyze security --no-pager qdeploy-build@probe.service");
    const score = Number(out.match(/Overall exposure level for \S+: ([\d.]+)/)?.[1]);
    console.log(`systemd-analyze security qdeploy-build@.service: ${score}`);
    expect(score).toBeLessThan(2);
    await onVmOk(vm, "rm -f /etc/ssh/sshd_config.d/qdeploy-e2e-self.conf && systemctl reload ssh");
  }, 10 * MIN);

  test("without [serve].domain it refuses, naming the key (exit 2)", async () => {
    writeConfig(dir, vm, { app: APP });
    const r = await qdeploy(dir, ["serve", "--install", "sandbox"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("serve.domain: required for `qdeploy serve --install`");
  }, MIN);
});
