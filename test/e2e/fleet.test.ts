/**
 * A fleet of three sandbox VMs (issue 10): roles, a rolling push under load on every web host,
 * a release that fails on host 3 putting every host back and the rollback right after it
 * (issue 21), one-host jobs, drift after a --hosts push and the rollback that ends it. VM 1 is the shared e2e VM; VMs 2 and 3 boot
 * for this suite and stop at its end.
 *
 * Roles: web on all three, worker on VM 3 only, so VM 3 is the duty host (jobs, release phase).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanApp, fleet, fleetDown, get, keepRequestingEach, makeProject, ok, onVm, qdeploy, writeFleetConfig } from "./harness.ts";

const MIN = 60_000;
const APP = "fleet";
const DOMAIN = `${APP}.localhost`;
const DROP_IN = `/etc/systemd/system/${APP}-web@.service.d/fail-health.conf`;
let vms: SandboxInfo[];
let dir: string;

const JOBS = `jobs = [
  { name = "cleanup", command = "hello cleanup", at = "*:*:0/10" },
  { name = "everywhere", command = "hello cleanup", at = "*:*:0/10", hosts = "all" },
]
rollout = { pause = "1s" }`;

function configure(stamp: string): void {
  writeFleetConfig(dir, vms, { app: APP, stamp, roles: { web: [1, 2, 3], worker: [3] }, extra: JOBS });
}

const label = (vm: SandboxInfo) => `root@127.0.0.1:${vm.sshPort}`;
const sh = async (vm: SandboxInfo, script: string) => (await onVm(vm, ["bash", "-c", script])).stdout;
const pages = () => Promise.all(vms.map(async (vm) => (await get(vm, "/", DOMAIN)).body));

beforeAll(async () => {
  vms = await fleet(3);
  await Promise.all(vms.map(async (vm) => {
    await cleanApp(vm, APP);
    await onVm(vm, ["rm", "-rf", `/etc/systemd/system/${APP}-web@.service.d`]);
  }));
  dir = makeProject(APP);
  configure("v1");
}, 10 * MIN);

afterAll(async () => {
  await Promise.all((vms ?? []).map((vm) => cleanApp(vm, APP).catch(() => {})));
  await fleetDown();
}, 2 * MIN);

describe("a fleet of three", () => {
  test("the first push gives each host its roles' units; restarts are staggered; one release id everywhere", async () => {
    const r = ok(await qdeploy(dir, ["push", "fleet", "--json"]));
    const report = JSON.parse(r.stdout);
    expect(report.waves).toEqual([[label(vms[0]!)], [label(vms[1]!), label(vms[2]!)]]);
    expect(await pages()).toEqual(["hello from v1\n", "hello from v1\n", "hello from v1\n"]);
    const st = JSON.parse(ok(await qdeploy(dir, ["status", "fleet", "--json"])).stdout);
    expect(st.drift).toBeNull();
    const active = (i: number) => st.hosts[i].units.filter((u: { active: string }) => u.active === "active").map((u: { unit: string }) => u.unit);
    for (const i of [0, 1]) expect(active(i).filter((u: string) => u.startsWith(`${APP}-worker@`) || u === `${APP}-job-cleanup.timer`)).toEqual([]);
    expect(active(2)).toContain(`${APP}-worker@1.service`);
    expect(active(2)).toContain(`${APP}-job-cleanup.timer`);
    for (const i of [0, 1, 2]) expect(active(i)).toContain(`${APP}-job-everywhere.timer`);
    // 15m of jitter over 3 hosts: host k sleeps (k-1) * 5m before its restart, within a 150 s window.
    const sleeps = await Promise.all(vms.map((vm) => sh(vm, `grep -h '^ExecStartPre=' /etc/systemd/system/${APP}-restart.service || true`)));
    expect(sleeps.map((s) => s.trim())).toEqual(["", "ExecStartPre=/bin/sleep 300", "ExecStartPre=/bin/sleep 600"]);
  }, 5 * MIN);

  test("a rolling push under steady HTTPS load on every web host fails no request", async () => {
    configure("v2");
    // A request every ~100 ms per host: steady, yet light enough for three emulated VMs on two cores.
    const load = keepRequestingEach(vms, "/", DOMAIN, 100);
    const r = await qdeploy(dir, ["push", "fleet"]);
    const seen = await load.stop();
    ok(r);
    expect(r.stdout + r.stderr).toContain("wave 2/2");
    for (const [i, s] of seen.entries()) {
      console.log(`[fleet] VM ${i + 1}: ${s.ok} requests answered during the rolling push, ${s.failed.length} failed`);
      expect(s.failed).toEqual([]);
      expect(s.ok).toBeGreaterThan(5);
    }
    expect(await pages()).toEqual(["hello from v2\n", "hello from v2\n", "hello from v2\n"]);
  }, 5 * MIN);

  test("a release that fails its health check on host 3 leaves all three on the old release, and says where each is", async () => {
    // Only host 3's new web slots get the failing health check: systemd reads the drop-in when the switch starts one.
    await sh(vms[2]!, `mkdir -p ${DROP_IN.replace(/\/[^/]+$/, "")} && printf '[Service]\\nEnvironment=HELLO_FAIL_HEALTH=1\\n' > ${DROP_IN}`);
    configure("v3");
    const r = await qdeploy(dir, ["push", "fleet"]);
    await sh(vms[2]!, `rm -f ${DROP_IN} && systemctl daemon-reload`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("stopped in wave 2/2");
    expect(r.stderr).toContain(`${label(vms[2]!)}: failed; still on`);
    expect(r.stderr).toContain(`${label(vms[0]!)}: switched back to`);
    expect(await pages()).toEqual(["hello from v2\n", "hello from v2\n", "hello from v2\n"]);
    const st = await qdeploy(dir, ["status", "fleet", "--json"]);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout).drift).toBeNull();
  }, 5 * MIN);

  test("right after that refused push, rollback goes to the release before the live one (v1), and a second one back to v2", async () => {
    // Chained to the test above: v1 and v2 went live everywhere; v3 went live on hosts 1 and 2
    // and was switched back. It never passed the fleet, so it is no host's previous release.
    const rel = JSON.parse(ok(await qdeploy(dir, ["releases", "fleet", "--json"])).stdout);
    const [v1, v2, v3] = rel.releases.map((r: { id: string }) => r.id);
    expect(rel.hosts.map((h: { live: string }) => h.live)).toEqual([v2, v2, v2]);
    expect(rel.hosts.map((h: { previous: string }) => h.previous)).toEqual([v1, v1, v1]);
    const entries = JSON.parse(ok(await qdeploy(dir, ["audit", "fleet", "--json"])).stdout).entries as { host: string; what: string }[];
    for (const vm of [vms[0]!, vms[1]!]) {
      expect(entries.filter((e) => e.host === label(vm) && e.what.startsWith("reverted")).map((e) => e.what)).toEqual([`reverted ${v3} to ${v2}`]);
    }
    ok(await qdeploy(dir, ["rollback", "fleet"]));
    expect(await pages()).toEqual(["hello from v1\n", "hello from v1\n", "hello from v1\n"]);
    // A second rollback goes back to where the first came from (v2), leaving the fleet as the next test expects it.
    ok(await qdeploy(dir, ["rollback", "fleet"]));
    expect(await pages()).toEqual(["hello from v2\n", "hello from v2\n", "hello from v2\n"]);
    expect((await qdeploy(dir, ["status", "fleet"])).code).toBe(0);
  }, 5 * MIN);

  test("a push to one host shows as drift in status (exit 1); rollback brings the fleet back together", async () => {
    configure("v4");
    ok(await qdeploy(dir, ["push", "fleet", "--hosts", `127.0.0.1:${vms[0]!.sshPort}`]));
    expect(await pages()).toEqual(["hello from v4\n", "hello from v2\n", "hello from v2\n"]);
    const st = await qdeploy(dir, ["status", "fleet"]);
    expect(st.code).toBe(1);
    expect(st.stderr).toContain("drift: the hosts run different releases");
    const rel = JSON.parse(ok(await qdeploy(dir, ["releases", "fleet", "--json"])).stdout);
    const live = rel.releases.filter((x: { live: string[] }) => x.live.length).map((x: { live: string[] }) => x.live.length);
    expect(live.sort()).toEqual([1, 2]);
    ok(await qdeploy(dir, ["rollback", "fleet"]));
    expect(await pages()).toEqual(["hello from v2\n", "hello from v2\n", "hello from v2\n"]);
    expect((await qdeploy(dir, ["status", "fleet"])).code).toBe(0);
  }, 5 * MIN);

  test("a one-host job fires on the duty host only; a hosts = \"all\" job on every host", async () => {
    const runs = (vm: SandboxInfo, job: string) => sh(vm, `journalctl -u ${APP}-job-${job}.service -o cat --no-pager | grep -c 'cleanup ran at' || true`).then(Number);
    // Timers fire within systemd's default 1 min accuracy: wait for host 3's first run.
    const deadline = Date.now() + 2 * MIN;
    while ((await runs(vms[2]!, "cleanup")) === 0 && Date.now() < deadline) await Bun.sleep(3000);
    while ((await Promise.all(vms.map((vm) => runs(vm, "everywhere")))).some((n) => n === 0) && Date.now() < deadline) await Bun.sleep(3000);
    expect(await runs(vms[2]!, "cleanup")).toBeGreaterThan(0);
    expect(await runs(vms[0]!, "cleanup")).toBe(0);
    expect(await runs(vms[1]!, "cleanup")).toBe(0);
    for (const vm of vms) expect(await runs(vm, "everywhere")).toBeGreaterThan(0);
  }, 4 * MIN);
});
