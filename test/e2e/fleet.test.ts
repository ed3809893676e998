/**
 * A fleet of three sandbox VMs (issue 10): roles, a rolling push under load on every web host,
 * a release that fails on host 3 putting every host back and the rollback right after it
 * (issue 21), one-host jobs, drift after a --hosts push and the rollback that ends it. VM 1 is the shared e2e VM; VMs 2 and 3 boot
 * for this suite and stop at its end.
 *
 * Roles: web on all three, worker on VM 3 only, so VM 3 is the duty host (jobs, release phase).
 *
 * Then add-ons on a database host of their own (issue 23): examples/notes on VMs 1 and 2, its
 * Postgres and Redis on VM 3, reached over the fleet's private network (10.99.0.K) with TLS.
 *
 * Last, promotion: an environment on VM 2 promotes its release to another on VM 3.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cleanApp, fleet, fleetDown, get, initProject, keepRequestingEach, makeProject, ok, onVm, qdeploy, writeConfig, writeFleetConfig } from "./harness.ts";

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

function configure(stamp: string, domains: string[] = [], healthTimeout?: string): void {
  writeFleetConfig(dir, vms, { app: APP, stamp, domains, healthTimeout, roles: { web: [1, 2, 3], worker: [3] }, extra: JOBS });
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

// VMs 2 and 3 go down with everything on them; VM 1's apps are cleaned by test/preload.ts after
// this file, as after every file. Cleaning the three apps on three VMs here first (nine scripts
// at once, each stopping units and reloading systemd) outran this hook's two minutes in CI.
afterAll(async () => {
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
    // Each host got its changed binary while the locks were taken: a zstd patch against the
    // blob the first push left there (.qdeploy/hosts.json), not after the facts.
    for (const vm of vms) expect(r.stdout + r.stderr).toMatch(new RegExp(`${label(vm).replace(/\./g, "\\.")} uploaded \\S+ \\S+ as a patch against [0-9a-f]{12} while taking the lock\n`));
    for (const [i, s] of seen.entries()) {
      console.log(`[fleet] VM ${i + 1}: ${s.ok} requests answered during the rolling push, ${s.failed.length} failed`);
      expect(s.failed).toEqual([]);
      expect(s.ok).toBeGreaterThan(5);
    }
    expect(await pages()).toEqual(["hello from v2\n", "hello from v2\n", "hello from v2\n"]);
  }, 5 * MIN);

  test("a release that fails its health check on host 3 stops the push before any host switches; the slots started elsewhere stop", async () => {
    // Only host 3's web slots started from now get the failing health check (the drop-in,
    // loaded by daemon-reload: the switch restarts the standby's slot, a unit systemd has
    // loaded, for the new release); the live slot keeps the environment it started with.
    await sh(vms[2]!, `mkdir -p ${DROP_IN.replace(/\/[^/]+$/, "")} && printf '[Service]\\nEnvironment=HELLO_FAIL_HEALTH=1\\n' > ${DROP_IN} && systemctl daemon-reload`);
    configure("v3", [], "20s");
    const r = await qdeploy(dir, ["push", "fleet"]);
    await sh(vms[2]!, `rm -f ${DROP_IN} && systemctl daemon-reload`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("stopped before any host switched");
    expect(r.stderr).toContain("failed its health check");
    expect(r.stderr).toContain(`${label(vms[2]!)}: failed; still on`);
    expect(r.stderr).toContain(`${label(vms[0]!)}: not switched; still on`);
    expect(await pages()).toEqual(["hello from v2\n", "hello from v2\n", "hello from v2\n"]);
    // Hosts 1 and 2 started v3 beside v2 and stopped it again: one web slot runs on each.
    for (const vm of vms) expect((await sh(vm, `systemctl list-units --plain --no-legend --state=active '${APP}-web@*' | wc -l`)).trim()).toBe("1");
    const st = await qdeploy(dir, ["status", "fleet", "--json"]);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout).drift).toBeNull();
  }, 5 * MIN);

  test("a release whose switch fails on host 3 in wave 2 (Caddy refuses its site there) puts hosts 1 and 2 back, and says where each is", async () => {
    // A new domain makes the switch load the site; host 3's Caddy refuses any config while a broken site sits beside it.
    const broken = "/etc/caddy/qdeploy/zz-broken.caddy";
    await sh(vms[2]!, `printf 'broken.localhost {\\n\\tbogus_directive\\n}\\n' > ${broken}`);
    configure("v3b", [`www.${DOMAIN}`]);
    const r = await qdeploy(dir, ["push", "fleet"]);
    await sh(vms[2]!, `rm -f ${broken}`);
    configure("v3b");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("stopped in wave 2/2");
    expect(r.stderr).toContain("Caddy refused the site of release");
    expect(r.stderr).toContain(`${label(vms[2]!)}: failed; still on`);
    expect(r.stderr).toContain(`${label(vms[0]!)}: switched back to`);
    expect(r.stderr).toContain(`${label(vms[1]!)}: switched back to`);
    expect(await pages()).toEqual(["hello from v2\n", "hello from v2\n", "hello from v2\n"]);
    const st = await qdeploy(dir, ["status", "fleet", "--json"]);
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout).drift).toBeNull();
  }, 5 * MIN);

  test("right after that refused push, rollback goes to the release before the live one (v1), and a second one back to v2", async () => {
    // Chained to the tests above: v1 and v2 went live everywhere; v3 went live nowhere; v3b went
    // live on hosts 1 and 2 and was switched back. It never passed the fleet, so it is no host's
    // previous release.
    const rel = JSON.parse(ok(await qdeploy(dir, ["releases", "fleet", "--json"])).stdout);
    const [v1, v2, , v3] = rel.releases.map((r: { id: string }) => r.id);
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

const DB_APP = "notesdb";
const DB_DOMAIN = `${DB_APP}.localhost`;

describe("add-ons on a database host of their own", () => {
  let notes: string;
  const [app1, app2, db] = [0, 1, 2].map((i) => () => vms[i]!);
  const addNote = (vm: SandboxInfo, body: string) => sh(vm, `curl -sS -X POST -d body=${body} -H 'Host: ${DB_DOMAIN}' http://127.0.0.1:$(cut -d' ' -f1 /srv/qdeploy/${DB_APP}/live-slot)/notes`);
  /** The release's value of an add-on's variable on an app host. */
  const urlOn = async (vm: SandboxInfo, name: string) => (await sh(vm, `sed -n 's/^${name}="\\(.*\\)"$/\\1/p' /srv/qdeploy/${DB_APP}/current/env`)).trim();

  beforeAll(() => {
    const host = (vm: SandboxInfo) => JSON.stringify(`root@127.0.0.1:${vm.sshPort}`);
    const addon = (name: string) => `[environments.fleet.addons.${name}]\nhost = ${host(db())}\naddress = "${db().lanAddress}"\n`;
    notes = initProject("notes", DB_APP, (toml) =>
      [
        toml,
        "[environments.fleet]",
        `hosts = [${host(app1())}, ${host(app2())}]`,
        `ssh = { identity = ${JSON.stringify(app1().identity)}, known_hosts = ${JSON.stringify(app1().knownHosts)} }`,
        `web = { domains = ["${DB_DOMAIN}"], tls = "internal", health = "/health" }`,
        "",
        addon("db"),
        addon("redis"),
      ].join("\n"),
    );
  });

  test("push provisions them on the database host, the release phase migrates from an app host, and both web hosts share the data", async () => {
    const r = ok(await qdeploy(notes, ["push", "fleet"]));
    const out = r.stdout + r.stderr;
    expect(out).toMatch(new RegExp(`add-on db \\(postgres\\) ready in [\\d.]+s: DATABASE_URL \\(TLS at ${db().lanAddress.replaceAll(".", "\\.")}, for fleet's 2 hosts: `));
    expect(out).toContain("release | migrate: applied 0001_create_notes");
    expect(await urlOn(app1(), "DATABASE_URL")).toMatch(new RegExp(`^postgres://notesdb_fleet_db:[0-9a-f]{48}@${db().lanAddress}:5432/notesdb_fleet_db\\?sslmode=require$`));
    expect(await urlOn(app2(), "REDIS_URL")).toMatch(new RegExp(`^rediss://:[0-9a-f]{48}@${db().lanAddress}:63\\d\\d$`));
    expect(await addNote(app1(), "shared")).toMatch(/^note \d+/);
    const [one, two] = [(await get(app1(), "/", DB_DOMAIN)).body, (await get(app2(), "/", DB_DOMAIN)).body];
    expect(one).toMatch(/^visits 1\n/);
    expect(two).toMatch(/^visits 2\n/);
    expect(two).toContain("anonymous: shared");
    // The database host runs none of the app's processes: the add-ons' script and state, no release.
    expect(await sh(db(), `ls /srv/qdeploy/${DB_APP}`)).toBe("addon\naddons\n");
    const units = ["db", "redis"].flatMap((a) => [`${DB_APP}-addon-${a}-backup.service`, `${DB_APP}-addon-${a}-backup.timer`]);
    expect(await sh(db(), `systemctl list-units --all --plain --no-legend '${DB_APP}-*' | awk '{print $1}' | sort`)).toBe(`${units.join("\n")}\n`);
  }, 8 * MIN);

  test("only the environment's hosts reach them, only with TLS; any other address is dropped by the firewall", async () => {
    const lan = (vm: SandboxInfo) => vm.lanAddress;
    const redisPort = (await urlOn(app1(), "REDIS_URL")).split(":").pop()!;
    const rules = await sh(db(), "nft list table inet qdeploy");
    for (const port of ["5432", redisPort]) {
      expect(rules).toMatch(new RegExp(`ip saddr \\{[^}]*${lan(app1())}, ${lan(app2())}[^}]*\\} tcp dport ${port} accept`));
      expect(rules).not.toMatch(new RegExp(`tcp dport \\{[^}]*\\b${port}\\b`)); // not open to all
    }
    // The web processes' pooled connections came over TLS from both app hosts.
    const ssl = await sh(db(), `cd / && runuser -u postgres -- psql -X -At -c "select distinct a.client_addr, s.ssl from pg_stat_ssl s join pg_stat_activity a using (pid) where a.datname = 'notesdb_fleet_db' and a.client_addr is not null order by 1"`);
    expect(ssl).toBe(`${lan(app1())}|t\n${lan(app2())}|t\n`);
    const probe = await sh(
      app1(),
      `U=$(sed -n 's/^DATABASE_URL="\\(.*\\)?sslmode=require"$/\\1/p' /srv/qdeploy/${DB_APP}/current/env)
       R=$(sed -n 's/^REDIS_URL="rediss:\\/\\/:\\([0-9a-f]*\\)@.*/\\1/p' /srv/qdeploy/${DB_APP}/current/env)
       cd /
       echo "plain psql: $(psql "$U?sslmode=disable" -XAtc 'select 1' 2>&1 | grep -o 'no encryption')"
       echo "plain redis: $(REDISCLI_AUTH=$R timeout 5 redis-cli --no-auth-warning -h ${lan(db())} -p ${redisPort} ping 2>&1 | tr -s '\\n' ' ')"
       echo "tls redis: $(REDISCLI_AUTH=$R redis-cli --no-auth-warning --tls --insecure -h ${lan(db())} -p ${redisPort} ping 2>&1)"
       ip addr add 10.99.0.50/24 dev ens4
       for src in 10.99.0.50 ${lan(app1())}; do
         out=$(curl -sv --connect-timeout 3 -m 4 --interface $src telnet://${lan(db())}:5432 < /dev/null 2>&1); code=$?
         echo "from $src: $(grep -o -m1 'Connected to' <<<"$out" || echo "exit $code, $(tail -n 1 <<<"$out")")"
       done
       ip addr del 10.99.0.50/24 dev ens4`,
    );
    expect(probe).toContain("plain psql: no encryption\n");
    expect(probe).toMatch(/^plain redis: [^\n]*(Connection reset by peer|I\/O error)[^\n]*$/m);
    expect(probe).not.toMatch(/^plain redis: [^\n]*PONG/m);
    expect(probe).toContain("tls redis: PONG\n");
    // Dropped, not refused: curl's timeout (28), whose wording differs with where it ran out.
    expect(probe).toMatch(/^from 10\.99\.0\.50: exit 28, /m);
    expect(probe).toContain(`from ${lan(app1())}: Connected to\n`);
  }, 3 * MIN);

  test("status and backups reach the database host", async () => {
    const st = JSON.parse(ok(await qdeploy(notes, ["status", "fleet", "--json"])).stdout);
    expect(st.hosts.map((h: { host: string }) => h.host)).toEqual([app1(), app2()].map((vm) => `root@127.0.0.1:${vm.sshPort}`));
    expect(st.addons.map((a: { addon: string; host: string; state: string }) => [a.addon, a.host, a.state])).toEqual([
      ["db", `root@127.0.0.1:${db().sshPort}`, "active"],
      ["redis", `root@127.0.0.1:${db().sshPort}`, "active"],
    ]);
    const made = JSON.parse(ok(await qdeploy(notes, ["addons", "backup", "fleet", "db", "--json"])).stdout);
    expect(made.backups[0].file).toMatch(/^\d{8}T\d{6}Z\.dump$/);
    expect(await sh(db(), `pg_restore --list /var/backups/qdeploy/${DB_APP}/db/${made.backups[0].file} | grep -c 'TABLE DATA public notes'`)).toBe("1\n");
  }, 3 * MIN);
});

const PROMO_APP = "promo";
const PROMO_DOMAIN = `${PROMO_APP}.localhost`;

describe("promote: one environment's release to another, byte for byte (issue 25)", () => {
  let promo: string;
  const [staging, production] = [1, 2].map((i) => () => vms[i]!);
  const file = (vm: SandboxInfo, p: string) => sh(vm, `cat /srv/qdeploy/${PROMO_APP}/current/${p}`);
  /** staging (the environment "sandbox") on VM 2, production on VM 3, each with its own APP_MESSAGE. */
  const configure = (stamp: string) =>
    writeConfig(promo, staging(), {
      app: PROMO_APP,
      stamp,
      workers: 1,
      extra: `[environments.sandbox.env]
APP_MESSAGE = "staging"

[environments.production]
hosts = ["root@127.0.0.1:${production().sshPort}"]
ssh = { identity = ${JSON.stringify(production().identity)}, known_hosts = ${JSON.stringify(production().knownHosts)} }

[environments.production.env]
APP_MESSAGE = "production"
`,
    });

  beforeAll(async () => {
    promo = makeProject(PROMO_APP);
    mkdirSync(path.join(promo, "public"));
    writeFileSync(path.join(promo, "public/notes.txt"), "the v1 notes\n");
    configure("v1");
    ok(await qdeploy(promo, ["push", "sandbox"]));
  }, 5 * MIN);

  test("production gets staging's programs and files, not this folder's newer ones, with its own env; nothing is built; releases says where it came from", async () => {
    expect((await get(staging(), "/", PROMO_DOMAIN)).body).toBe("hello from v1 (staging)\n");
    const staged = JSON.parse(ok(await qdeploy(promo, ["releases", "sandbox", "--json"])).stdout).releases.at(-1);
    // The folder moves on (a v2 build, new notes), and this machine forgets its builds: what
    // production gets can only come from staging's host.
    configure("v2");
    writeFileSync(path.join(promo, "public/notes.txt"), "the v2 notes\n");
    rmSync(path.join(promo, ".qdeploy/build"), { recursive: true, force: true });
    const r = ok(await qdeploy(promo, ["promote", "sandbox", "production"]));
    const out = r.stdout + r.stderr;
    expect(out).toContain(`promoting sandbox's release ${staged.id} to production: no build`);
    expect(out).not.toContain("building");
    expect(out).toMatch(new RegExp(`read \\d+ files \\([^)]+\\) from root@127\\.0\\.0\\.1:${staging().sshPort} in [\\d.]+s`));
    const report = { release: /^\S+ promo (\d+) live \(promote [\d.]+s/m.exec(r.stdout)?.[1] };
    expect((await get(production(), "/", PROMO_DOMAIN)).body).toBe("hello from v1 (production)\n");
    expect(await file(production(), "app/public/notes.txt")).toBe("the v1 notes\n");
    const sums = await Promise.all([staging(), production()].map((vm) => sh(vm, `sha256sum < /srv/qdeploy/${PROMO_APP}/current/bin/hello`)));
    expect(sums[1]).toBe(sums[0]!);
    expect(sums[0]!.slice(0, 64)).toBe(staged.sha256);
    const listed = ok(await qdeploy(promo, ["releases", "production", "--json"]));
    const live = JSON.parse(listed.stdout).releases.at(-1);
    expect(live.id).toBe(report.release);
    expect(live.from).toEqual({ env: "sandbox", release: staged.id });
    expect(ok(await qdeploy(promo, ["releases", "production"])).stdout).toContain(`from sandbox ${staged.id}`);
    // A release staging never had, and a promotion to itself, are refused before anything changes.
    const missing = await qdeploy(promo, ["promote", "sandbox", "production", "20000101000000"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("release 20000101000000 is not on any host of sandbox");
    expect((await qdeploy(promo, ["promote", "production", "production"])).stderr).toContain("promote: production to itself");
  }, 5 * MIN);
});
