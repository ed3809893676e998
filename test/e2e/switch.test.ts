/**
 * The server-side switch against the sandbox VM: apps that share a name prefix stay apart
 * (units, ports, logs), a push whose connection is cut mid-switch still ends consistent, a
 * refused release leaves the live one's units and timers for the next boot, removing the web
 * process removes its slots and site, rollback follows the audit trail.
 * Each app here has its own name; tests run in order and build on each other.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanApp, get, makeProject, ok, onVm, powerCycle, qdeploy, sandbox } from "./harness.ts";

const MIN = 60_000;
const APPS = ["shop", "shop-api", "cutapp", "bootapp"];
let vm: SandboxInfo;
const dirs: Record<string, string> = {};


interface AppOptions {
  stamp: string;
  web?: boolean;
  worker?: string;
  extraProcess?: string;
  job?: boolean;
  env?: Record<string, string>;
  healthTimeout?: string;
}

/** deploy.toml for app `name` (the example's binary) aimed at the sandbox, domain NAME.localhost. */
function writeApp(name: string, o: AppOptions): void {
  const web = o.web ?? true;
  const env = Object.entries(o.env ?? {}).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n");
  const toml = `app = "${name}"

[build]
main = "./cmd/hello"
binary = "hello"
stamp = { symbol = "main.version", value = ${JSON.stringify(o.stamp)} }

[processes]
${web ? 'web = "hello serve"\n' : ""}worker = ${JSON.stringify(o.worker ?? "hello work")}
${o.extraProcess ?? ""}

${web ? `[web]\ndomains = ["${name}.localhost"]\nhealth = "/healthz"\ntls = "internal"\ndrain = "5s"\nhealth_timeout = "${o.healthTimeout ?? "60s"}"\n` : ""}
[scale]
worker = 1

[restart]
at = "Sun *-*-* 04:00:00"

${o.job === false ? "" : '[[jobs]]\nname = "cleanup"\ncommand = "hello cleanup"\nat = "hourly"\n'}
[env]
LOG_LEVEL = "info"
${env}

[environments.sandbox]
hosts = ["root@127.0.0.1:${vm.sshPort}"]
ssh = { identity = ${JSON.stringify(vm.identity)}, known_hosts = ${JSON.stringify(vm.knownHosts)} }
`;
  writeFileSync(path.join(dirs[name]!, "deploy.toml"), toml);
}

const push = (name: string, args: string[] = []) => qdeploy(dirs[name]!, ["push", "sandbox", ...args]);
const vmText = async (script: string) => (await onVm(vm, ["bash", "-c", script])).stdout.trim();
/** MainPID of each unit, in order. */
const pids = async (...units: string[]) => (await vmText(`systemctl show -P MainPID ${units.join(" ")}`)).split(/\s+/);
const liveSlot = (app: string) => vmText(`cat /srv/qdeploy/${app}/live-slot`);
const activeWeb = (app: string) => vmText(`systemctl list-units --plain --no-legend --state=active '${app}-web@*' | awk '{print $1}'`);

beforeAll(async () => {
  vm = await sandbox();
  for (const a of APPS) dirs[a] = makeProject(a);
  // Only this file's apps: their units, files, sites and port registrations.
  await onVm(vm, ["bash", "-c", "systemctl stop foreign-listener 2>/dev/null; true"]);
  for (const a of APPS) await cleanApp(vm, a);
}, 10 * MIN);

describe("two apps whose names share a prefix", () => {
  test("shop and shop-api deploy side by side, each on its own ports and domain", async () => {
    writeApp("shop-api", { stamp: "api-v1" });
    ok(await push("shop-api"));
    writeApp("shop", { stamp: "shop-v1" });
    ok(await push("shop"));
    expect(await get(vm, "/", "shop.localhost")).toEqual({ status: 200, body: "hello from shop-v1\n" });
    expect(await get(vm, "/", "shop-api.localhost")).toEqual({ status: 200, body: "hello from api-v1\n" });
    const registry = await vmText("cat /srv/qdeploy/.ports");
    const pair = (a: string) => registry.match(new RegExp(`^${a} (\\d+) (\\d+)$`, "m"))?.slice(1);
    expect(pair("shop")).toHaveLength(2);
    expect(pair("shop-api")).toHaveLength(2);
    expect(pair("shop")!.some((p) => pair("shop-api")!.includes(p))).toBe(false);
  }, 5 * MIN);

  test("pushing and restarting shop leaves shop-api's units alone, and the other way round", async () => {
    const api = ["shop-api-worker@1.service", `shop-api-web@${await liveSlot("shop-api")}.service`];
    const apiBefore = await pids(...api);
    writeApp("shop", { stamp: "shop-v2" });
    ok(await push("shop"));
    ok(await qdeploy(dirs.shop!, ["restart", "sandbox"]));
    expect(await pids(...api)).toEqual(apiBefore);
    expect(await vmText("systemctl is-enabled shop-api-worker@1.service")).toBe("enabled");
    const shop = ["shop-worker@1.service", `shop-web@${await liveSlot("shop")}.service`];
    const shopBefore = await pids(...shop);
    ok(await qdeploy(dirs["shop-api"]!, ["restart", "sandbox"]));
    expect(await pids(...shop)).toEqual(shopBefore);
    expect(await get(vm, "/", "shop.localhost")).toEqual({ status: 200, body: "hello from shop-v2\n" });
  }, 5 * MIN);

  test("status and logs of shop show none of shop-api's units", async () => {
    const [s] = JSON.parse(ok(await qdeploy(dirs.shop!, ["status", "sandbox", "--json"])).stdout).hosts;
    const units: string[] = s.units.map((u: { unit: string }) => u.unit);
    expect(units).toContain("shop-worker@1.service");
    expect(units.filter((u) => u.startsWith("shop-api"))).toEqual([]);
    const logs = ok(await qdeploy(dirs.shop!, ["logs", "sandbox", "-n", "300"])).stdout;
    expect(logs).toContain("version=shop-v2");
    expect(logs).not.toContain("api-v1");
  }, 2 * MIN);

  test("a unit name another app holds is refused: shop + api-worker would be shop-api-worker@", async () => {
    writeApp("shop", { stamp: "shop-v3", extraProcess: 'api-worker = "hello work"' });
    const r = await push("shop");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unit shop-api-worker@.service of shop is already installed by app shop-api");
    expect(await get(vm, "/", "shop.localhost")).toEqual({ status: 200, body: "hello from shop-v2\n" });
    expect(await vmText("systemctl is-active shop-api-worker@1.service")).toBe("active");
    expect(await vmText("grep -c shop-api-worker /srv/qdeploy/shop/installed-units || true")).toBe("0");
  }, 5 * MIN);

  test("rollback follows the audit trail: back to v1, then back again to v2", async () => {
    ok(await qdeploy(dirs.shop!, ["rollback", "sandbox"]));
    expect((await get(vm, "/", "shop.localhost")).body).toBe("hello from shop-v1\n");
    ok(await qdeploy(dirs.shop!, ["rollback", "sandbox"]));
    expect((await get(vm, "/", "shop.localhost")).body).toBe("hello from shop-v2\n");
  }, 5 * MIN);

  test("a port held by another program fails the switch clearly; nothing answers for the app", async () => {
    const live = await liveSlot("shop");
    const pairs = (await vmText("grep '^shop ' /srv/qdeploy/.ports")).split(" ").slice(1);
    const idle = pairs.find((p) => p !== live)!;
    // The rollback forward to v2 kept v1 as the warm standby, on the idle port: end it first,
    // as the minute's sample does once its window is up (not before).
    expect(await vmText("/srv/qdeploy/shop/switch sample; cat /srv/qdeploy/shop/standby")).toMatch(new RegExp(`^${idle} \\d+ \\d+$`));
    await onVm(vm, ["sh", "-c", 'read p id u < /srv/qdeploy/shop/standby && echo "$p $id 1" > /srv/qdeploy/shop/standby']);
    expect(await vmText("/srv/qdeploy/shop/switch sample")).toContain(`ended the standby of`);
    expect(await vmText(`test -e /srv/qdeploy/shop/standby || echo gone; systemctl is-active shop-web@${idle}.service || true`)).toBe("gone\ninactive");
    // Something else (here: the app's own binary, answering /healthz) on shop's idle port.
    const bin = await vmText("ls -d /srv/qdeploy/shop/releases/*/bin/hello | head -1");
    await onVm(vm, ["systemd-run", "--unit=foreign-listener", "-p", `Environment=PORT=${idle}`, "-p", "Environment=APP_MESSAGE=foreign", bin, "serve"]);
    try {
      await Bun.sleep(1500);
      writeApp("shop", { stamp: "shop-v4" });
      const r = await push("shop");
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${idle} (shop's web slot) is held by pid`);
      expect(r.stderr).toContain("not by shop-web@");
      expect(await get(vm, "/", "shop.localhost")).toEqual({ status: 200, body: "hello from shop-v2\n" });
    } finally {
      await onVm(vm, ["systemctl", "stop", "foreign-listener"]);
    }
  }, 5 * MIN);

  test("removing the web process stops both slots and removes the site; shop-api keeps serving", async () => {
    writeApp("shop", { stamp: "shop-v5", web: false });
    ok(await push("shop"));
    expect(await activeWeb("shop")).toBe("");
    expect(await vmText("ls /etc/caddy/qdeploy/")).not.toContain("shop.caddy");
    expect(await vmText("ls /etc/systemd/system/*.wants/ | grep -c '^shop-web@' || true")).toBe("0");
    expect((await get(vm, "/", "shop.localhost")).status).not.toBe(200);
    expect(await vmText("systemctl is-active shop-worker@1.service")).toBe("active");
    expect(await get(vm, "/", "shop-api.localhost")).toEqual({ status: 200, body: "hello from api-v1\n" });
  }, 5 * MIN);
});

describe("a push whose connection is cut during the switch", () => {
  test("the switch still ends consistent, and a clean push follows", async () => {
    writeApp("cutapp", { stamp: "cut-v1" });
    ok(await push("cutapp"));
    writeApp("cutapp", { stamp: "cut-v2" });
    const p = Bun.spawn([path.join(import.meta.dir, "../../bin/qdeploy"), "push", "sandbox"], { cwd: dirs.cutapp!, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    const reader = p.stdout.getReader();
    let seen = "";
    while (!seen.includes("starting cutapp-web@")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    p.kill("SIGKILL"); // the TCP connection goes with the process
    await p.exited;
    const cut = performance.now();
    expect(seen).toContain("starting cutapp-web@");
    // While the orphaned switch runs, the deploy lock stays held (its holder waits for it).
    const lockNow = await vmText(
      "cd /srv/qdeploy/cutapp; if flock -n switch.lock true; then echo switch-done; elif flock -n lock true; then echo lock-free-while-switching; else echo held; fi",
    );
    expect(lockNow).not.toBe("lock-free-while-switching");
    console.log(`right after the cut: ${lockNow}`);
    // The switch goes on alone and logs to a file.
    const id = await vmText("ls /srv/qdeploy/cutapp/releases | tail -1");
    const deadline = Date.now() + MIN;
    while (Date.now() < deadline && !(await vmText("cat /srv/qdeploy/cutapp/switch.log 2>&1")).includes(`live: ${id}`)) await Bun.sleep(1000);
    console.log(`the switch ended alone ${((performance.now() - cut) / 1000).toFixed(1)}s after the cut`);
    // Consistent: current, live-slot and the running web slots agree (the live one, and cut-v1's
    // kept as the warm standby), and Caddy serves the live one.
    expect(await vmText("readlink /srv/qdeploy/cutapp/current")).toBe(`releases/${id}`);
    const slot = await liveSlot("cutapp");
    expect(await vmText(`readlink /srv/qdeploy/cutapp/slots/${slot}`)).toBe(`../releases/${id}`);
    const [standbyPort, standbyId] = (await vmText("cat /srv/qdeploy/cutapp/standby")).split(" ");
    expect(standbyId).toBe((await vmText("ls /srv/qdeploy/cutapp/releases")).split("\n")[0]); // cut-v1
    expect(await activeWeb("cutapp")).toBe([`cutapp-web@${slot}.service`, `cutapp-web@${standbyPort}.service`].sort().join("\n"));
    expect(await get(vm, "/", "cutapp.localhost")).toEqual({ status: 200, body: "hello from cut-v2\n" });
    expect(await vmText("cat /srv/qdeploy/cutapp/switch.log")).toContain(`live: ${id}`);
    writeApp("cutapp", { stamp: "cut-v3" });
    const clean = ok(await push("cutapp", ["--lock-wait", "60"]));
    console.log(`the clean push after it: ${clean.seconds.toFixed(1)}s`);
    expect(await get(vm, "/", "cutapp.localhost")).toEqual({ status: 200, body: "hello from cut-v3\n" });
    // cut-v3 live, cut-v2 its standby: nothing else of cutapp runs.
    expect((await activeWeb("cutapp")).split("\n")).toHaveLength(2);
  }, 6 * MIN);
});

describe("the next command reconciles what a killed switch left", () => {
  test("live-slot moved without current, and the old slot still running: current follows, the old slot stops", async () => {
    // What a switch to cut-v2 killed (SIGKILL) right after it wrote live-slot leaves behind.
    const releases = (await vmText("ls /srv/qdeploy/cutapp/releases")).split("\n");
    const v2 = releases.at(-2)!;
    const live = await liveSlot("cutapp");
    const idle = (await vmText("grep '^cutapp ' /srv/qdeploy/.ports")).split(" ").slice(1).find((p) => p !== live)!;
    await onVm(vm, ["bash", "-c", `cd /srv/qdeploy/cutapp && ln -sfn ../releases/${v2} slots/${idle} && systemctl start cutapp-web@${idle} && echo ${idle} > live-slot`]);
    const r = ok(await qdeploy(dirs.cutapp!, ["restart", "sandbox", "worker"]));
    expect(r.stdout).toContain(`reconciled: ${v2} is live`);
    expect(r.stdout).toContain(`reconciled: stopped cutapp-web@${live}.service`);
    expect(await vmText("readlink /srv/qdeploy/cutapp/current")).toBe(`releases/${v2}`);
    expect(await activeWeb("cutapp")).toBe(`cutapp-web@${idle}.service`);
    expect(await get(vm, "/", "cutapp.localhost")).toEqual({ status: 200, body: "hello from cut-v2\n" });
  }, 3 * MIN);
});

describe("a refused release, then a reboot", () => {
  test("the live release's command lines and timers come back, not the refused one's", async () => {
    writeApp("bootapp", { stamp: "boot-v1" });
    ok(await push("bootapp"));
    // The refused release changes the worker's command line and drops the job.
    writeApp("bootapp", { stamp: "boot-v2", worker: "hello work refused-release", job: false, env: { HELLO_FAIL_HEALTH: "1" }, healthTimeout: "4s" });
    const r = await push("bootapp");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("failed its health check; the live release keeps serving");
    expect(await vmText("systemctl cat bootapp-worker@.service")).not.toContain("refused-release");
    expect(await vmText("systemctl is-enabled bootapp-job-cleanup.timer; systemctl is-active bootapp-job-cleanup.timer")).toBe("enabled\nactive");
    vm = await powerCycle(vm);
    const deadline = Date.now() + 4 * MIN;
    let page = { status: 0, body: "" };
    while (Date.now() < deadline) {
      page = await get(vm, "/", "bootapp.localhost");
      if (page.status === 200) break;
      await Bun.sleep(1000);
    }
    expect(page).toEqual({ status: 200, body: "hello from boot-v1\n" });
    const worker = await vmText("tr '\\0' ' ' < /proc/$(systemctl show -P MainPID bootapp-worker@1.service)/cmdline");
    expect(worker).toMatch(/\/bin\/hello work$/); // not "work refused-release"
    expect(await vmText("systemctl is-active bootapp-job-cleanup.timer bootapp-restart.timer")).toBe("active\nactive");
    expect(await activeWeb("bootapp")).toBe(`bootapp-web@${await liveSlot("bootapp")}.service`);
  }, 8 * MIN);
});
