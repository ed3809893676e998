/**
 * Add-ons on the sandbox (issue 23): examples/notes is a Heroku-shaped app whose app.json asks
 * for heroku-postgresql and heroku-redis. `init` proposes [addons.db] and [addons.redis]; push
 * provisions Debian's postgresql and redis-server (in the image, stopped), its release phase
 * migrates the real database, and the web process reads and writes both. One push is shared
 * by the checks; a second app on the same host gets its add-ons through `addons setup` only.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { requireTool } from "../tools.ts";
import { cleanApp, get, initProject, ok, onVm, onVmOk, powerCycle, qdeploy, REPO, sandbox } from "./harness.ts";

const MIN = 60_000;
const APP = "notes";
const OTHER = "notes2";
const DOMAIN = `${APP}.localhost`;
const STATE = `/srv/qdeploy/${APP}/addons`;
let vm: SandboxInfo;
let dir: string;
let other: string;
let env: Record<string, string>;
let pushOutput = "";
/** A dump `addons pull` brought here: the restore test sends it back. */
let pulledDump = "";

const page = async (p: string) => (await get(vm, p, DOMAIN)).body;
/** A key of an add-on's state file on the VM (root's, 0600). */
const stateOf = async (app: string, addon: string, key: string) => (await onVmOk(vm, `sed -n 's/^${key}=//p' /srv/qdeploy/${app}/addons/${addon}.env`)).trim();
const psqlAs = (url: string, sql: string) => onVm(vm, ["bash", "-c", 'cd / && psql "$1" -X -At -c "$2"', "psql", url, sql]);
const addNote = (body: string) => onVmOk(vm, `curl -sS -X POST -d body=${body} -H 'Host: ${DOMAIN}' http://127.0.0.1:$(cut -d' ' -f1 /srv/qdeploy/${APP}/live-slot)/notes`);

/**
 * `qdeploy ARGS` on a terminal (script(1) makes the PTY): each [until, type] waits for the
 * text, then types; its exit code and what the terminal showed.
 */
async function onTerminal(cwd: string, args: string[], steps: [string, string][]): Promise<{ code: number; out: string }> {
  const script = requireTool("script");
  const command = [path.join(REPO, "bin/qdeploy"), ...args].map((w) => `'${w}'`).join(" ");
  const p = Bun.spawn([script, "-q", "-e", "-c", command, "/dev/null"], { cwd, env: { ...process.env, TERM: "dumb", NO_COLOR: "1" }, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const reader = p.stdout.getReader();
  let out = "";
  const deadline = Date.now() + 60_000;
  for (const [until, type] of steps) {
    while (!out.includes(until)) {
      if (Date.now() > deadline) throw new Error(`no ${JSON.stringify(until)} on the terminal: ${JSON.stringify(out)}`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`the session ended before ${JSON.stringify(until)}: ${JSON.stringify(out)}`);
      out += new TextDecoder().decode(value);
    }
    p.stdin.write(type);
    p.stdin.flush();
  }
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  return { code: await p.exited, out };
}

/** A copy of examples/notes with deploy.toml from `init`, aimed at the sandbox. */
function project(app: string, edit: (toml: string) => string = (t) => t): string {
  return initProject("notes", app, (toml) =>
    edit(
      toml
        .replace('hosts = ["root@127.0.0.1:2222"]', `hosts = ["root@127.0.0.1:${vm.sshPort}"]`)
        .replace(
          'ssh = { identity = ".qdeploy/sandbox/id_ed25519", known_hosts = ".qdeploy/sandbox/known_hosts" }',
          `ssh = { identity = ${JSON.stringify(vm.identity)}, known_hosts = ${JSON.stringify(vm.knownHosts)} }`,
        )
        .replace(/^health = "\/"/m, 'health = "/health"'),
    ),
  );
}

beforeAll(async () => {
  vm = await sandbox();
  await cleanApp(vm, APP);
  await cleanApp(vm, OTHER);
  env = { XDG_CONFIG_HOME: mkdtempSync(path.join(tmpdir(), "qdeploy-cfg-")) };
  // The timer runs every 15 s here, so the suite sees it take backups and prune to 2.
  dir = project(APP, (t) => t.replace('# backup = { at = "daily", keep = 7 }', 'backup = { at = "*:*:0/15", keep = 2 }'));
}, 5 * MIN);

describe("add-ons: Postgres and Redis on the app's host", () => {
  test("init proposes them from app.json; check counts their variables as set", async () => {
    const toml = readFileSync(path.join(dir, "deploy.toml"), "utf8");
    expect(toml).toContain('[addons.db]');
    expect(toml).toContain('[addons.redis]');
    expect(toml).toMatch(/\[addons\.db\][^\n]*\nservice = "postgres"/);
    const r = ok(await qdeploy(dir, ["check", "sandbox"], { env }));
    expect(r.stdout + r.stderr).toContain("has every config var it requires");
  }, MIN);

  test("push provisions both; the release phase migrates the real database; the web reads and writes both", async () => {
    const r = ok(await qdeploy(dir, ["push", "sandbox"], { env }));
    pushOutput = r.stdout + r.stderr;
    expect(pushOutput).toMatch(/add-on db \(postgres\) ready in [\d.]+s: DATABASE_URL/);
    expect(pushOutput).toMatch(/add-on redis \(redis\) ready in [\d.]+s: REDIS_URL/);
    expect(pushOutput).toContain("release | migrate: applied 0001_create_notes");
    expect(pushOutput).toContain("release | migrate: applied 0002_add_author");
    expect(await addNote("first")).toMatch(/^note \d+/);
    const home = await page("/");
    expect(home).toMatch(/^visits 1\n/);
    expect(home).toContain("anonymous: first");
    expect(await page("/")).toMatch(/^visits 2\n/);
  }, 10 * MIN);

  test("the passwords stay on the host: root's 0600 files, the release's env file, never in output, argv or the journal", async () => {
    const pw = await stateOf(APP, "db", "password");
    const redisPw = await stateOf(APP, "redis", "password");
    expect(pw).toMatch(/^[0-9a-f]{48}$/);
    expect(redisPw).toMatch(/^[0-9a-f]{48}$/);
    expect(await onVmOk(vm, `stat -c '%a %U' ${STATE} ${STATE}/db.env ${STATE}/redis.env`)).toBe("700 root\n600 root\n600 root\n");
    const envFile = await onVmOk(vm, `cat /srv/qdeploy/${APP}/current/env`);
    expect(envFile).toContain(`DATABASE_URL="postgres://notes_sandbox_db:${pw}@127.0.0.1:5432/notes_sandbox_db"`);
    expect(envFile).toMatch(new RegExp(`REDIS_URL="redis://:${redisPw}@127.0.0.1:63\\d\\d"`));
    expect(pushOutput).not.toContain(pw);
    expect(pushOutput).not.toContain(redisPw);
    // Redis's config file holds its password: root's and redis's group only.
    expect(await onVmOk(vm, `stat -c '%a %U %G' /etc/redis/redis-qdeploy-${APP}-redis.conf`)).toBe("640 root redis\n");
    // The patterns come from a file: on grep's command line they would be found in argv.
    const leaks = await onVmOk(vm, `sed -n 's/^password=//p' ${STATE}/*.env > /root/pw; { journalctl --no-pager -o cat; cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '; } | grep -c -F -f /root/pw || true; rm -f /root/pw`);
    expect(leaks.trim()).toBe("0");
  }, 2 * MIN);

  test("a second push changes no credential", async () => {
    const before = await onVmOk(vm, `sha256sum ${STATE}/*.env; runuser -u postgres -- sh -c "cd / && psql -X -At -c \\"select rolpassword from pg_authid where rolname = 'notes_sandbox_db'\\""`);
    ok(await qdeploy(dir, ["push", "sandbox"], { env }));
    expect(await onVmOk(vm, `sha256sum ${STATE}/*.env; runuser -u postgres -- sh -c "cd / && psql -X -At -c \\"select rolpassword from pg_authid where rolname = 'notes_sandbox_db'\\""`)).toBe(before);
    expect(await page("/")).toContain("anonymous: first");
  }, 5 * MIN);

  test("they listen on loopback only: not on the VM's own address, which is what QEMU forwards from outside", async () => {
    const port = await stateOf(APP, "redis", "port");
    const listening = await onVmOk(vm, `ss -Hltn '( sport = :5432 or sport = :${port} )' | awk '{print $4}' | sort -u`);
    for (const addr of listening.trim().split("\n")) expect(addr).toMatch(/^(127\.0\.0\.1|\[::1\]):\d+$/);
    const ip = (await onVmOk(vm, "ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1")).trim();
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    for (const p of ["5432", port]) {
      const r = await onVm(vm, ["bash", "-c", `timeout 5 bash -c '</dev/tcp/${ip}/${p}' && echo open || echo closed`]);
      expect(r.stdout.trim()).toBe("closed");
    }
  }, MIN);

  test("two apps on one host: each its own database, role, Redis and password; one cannot read the other's", async () => {
    other = project(OTHER);
    const r = ok(await qdeploy(other, ["addons", "setup", "sandbox"], { env }));
    expect(r.stdout).toContain("db (postgres) on root@127.0.0.1");
    const mine = `postgres://notes2_sandbox_db:${await stateOf(OTHER, "db", "password")}@127.0.0.1:5432`;
    // Its own database: fine. The first app's, with its own credentials: refused.
    expect((await psqlAs(`${mine}/notes2_sandbox_db`, "select 1")).stdout.trim()).toBe("1");
    const theirs = await psqlAs(`${mine}/notes_sandbox_db`, "select count(*) from notes");
    expect(theirs.code).not.toBe(0);
    expect(theirs.stderr).toContain("permission denied for database");
    // Redis: another instance, another port; the first app's password does not open it.
    const [p1, p2] = [await stateOf(APP, "redis", "port"), await stateOf(OTHER, "redis", "port")];
    expect(p1).not.toBe(p2);
    const cross = await onVmOk(vm, `REDISCLI_AUTH=$(sed -n 's/^password=//p' /srv/qdeploy/${OTHER}/addons/redis.env) redis-cli --no-auth-warning -p ${p1} get visits 2>&1 || true`);
    expect(cross).toMatch(/WRONGPASS|NOAUTH/);
  }, 3 * MIN);

  test("backups: the timer takes them and keeps 2; by hand; each listed and pulled whole", async () => {
    // Only the timer makes backups until now; it runs every 15 s.
    const deadline = Date.now() + 90_000;
    let timerMade = 0;
    while (Date.now() < deadline && timerMade < 3) {
      await Bun.sleep(5000);
      timerMade = Number((await onVmOk(vm, `journalctl -u ${APP}-addon-db-backup.service -o cat --no-pager | grep -c 'Finished' || true`)).trim());
    }
    expect(timerMade).toBeGreaterThanOrEqual(3);
    const listed = JSON.parse(ok(await qdeploy(dir, ["addons", "backups", "sandbox", "db", "--json"], { env })).stdout);
    expect(listed.backups.length).toBe(2);
    // The timer's part is done: stopped now, so no later one prunes the backup by hand; started
    // again at the end.
    await onVmOk(vm, `systemctl stop ${APP}-addon-db-backup.timer`);
    const made = JSON.parse(ok(await qdeploy(dir, ["addons", "backup", "sandbox", "--json"], { env })).stdout);
    expect(made.backups.map((b: { addon: string }) => b.addon)).toEqual(["db", "redis"]);
    const name = made.backups[0].file;
    // By name: a run the timer began before it stopped may still add a newer one.
    const pulled = JSON.parse(ok(await qdeploy(dir, ["addons", "pull", "sandbox", "db", name, "--json"], { env })).stdout);
    const local = createHash("sha256").update(readFileSync(pulled.file)).digest("hex");
    expect(pulled.file).toEndWith(name);
    pulledDump = pulled.file;
    expect(await onVmOk(vm, `sha256sum < /var/backups/qdeploy/${APP}/db/${name} | cut -c1-64`)).toBe(`${local}\n`);
    const status = JSON.parse(ok(await qdeploy(dir, ["addons", "status", "sandbox", "--json"], { env })).stdout);
    for (const s of status.addons) {
      expect(s.state).toBe("active");
      expect(s.lastBackup).not.toBeNull();
      expect(s.warning).toBeNull();
    }
    await onVmOk(vm, `systemctl start ${APP}-addon-db-backup.timer`);
  }, 4 * MIN);

  test("psql and redis-cli: a terminal on the add-on, as the app's own role and instance", async () => {
    const psql = await onTerminal(dir, ["addons", "psql", "sandbox"], [["notes_sandbox_db=>", "select author, body from notes order by id limit 1;\n"], ["(1 row)", "\\q\n"]]);
    expect(psql.code).toBe(0);
    expect(psql.out).toMatch(/anonymous\s*\|\s*first/);
    const cli = await onTerminal(dir, ["addons", "redis-cli", "sandbox"], [["redis-server.sock>", "get visits\n"], ['"', "quit\n"]]);
    expect(cli.code).toBe(0);
    expect(cli.out).toMatch(/"\d+"/);
  }, 2 * MIN);

  test("a dropped table and a flushed Redis come back with restore (a dump from here, a backup on the host), which takes a backup first", async () => {
    const made = JSON.parse(ok(await qdeploy(dir, ["addons", "backup", "sandbox", "redis", "--json"], { env })).stdout);
    const redis = made.backups[0].file;
    const visits = Number(/^visits (\d+)/.exec(await page("/"))![1]);
    await onVmOk(vm, `cd / && runuser -u postgres -- psql -X -q -d notes_sandbox_db -c 'DROP TABLE notes'`);
    await onVmOk(vm, `REDISCLI_AUTH=$(sed -n 's/^password=//p' ${STATE}/redis.env) redis-cli --no-auth-warning -p $(sed -n 's/^port=//p' ${STATE}/redis.env) flushall`);
    expect(await page("/")).toMatch(/^visits 1\n|relation "notes" does not exist/);
    // Without --yes and without a terminal: refused, nothing changed.
    const refused = await qdeploy(dir, ["addons", "restore", "sandbox", "db", pulledDump], { env });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("--yes");
    const r = ok(await qdeploy(dir, ["addons", "restore", "sandbox", "db", pulledDump, "--yes"], { env }));
    expect(r.stdout).toMatch(/db: restored from notes-sandbox-db-\S+\.dump; the data before it is in backup \S+\.dump/);
    // The upload is gone once restored: only backups are left (and a timer run's dot-named temp file, maybe).
    expect(await onVmOk(vm, `ls /var/backups/qdeploy/${APP}/db | grep -v -c -E '^[0-9]{8}T[0-9]{6}Z\\.dump$' || true`)).toBe("0\n");
    ok(await qdeploy(dir, ["addons", "restore", "sandbox", "redis", redis, "--yes"], { env }));
    const home = await page("/");
    expect(home).toContain("anonymous: first");
    expect(Number(/^visits (\d+)/.exec(home)![1])).toBe(visits);
  }, 4 * MIN);

  test("a reboot keeps the data, and the add-ons come back by themselves", async () => {
    await addNote("before-reboot");
    const visits = Number(/^visits (\d+)/.exec(await page("/"))![1]);
    vm = await powerCycle(vm);
    let home = "";
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await Bun.sleep(1000)) {
      home = await page("/");
      if (home.startsWith("visits")) break;
    }
    expect(home).toContain("anonymous: before-reboot");
    // Redis kept its count (saved as it stopped): it goes on from there.
    expect(Number(/^visits (\d+)/.exec(home)![1])).toBeGreaterThan(visits);
  }, 5 * MIN);

  test("an add-on left out of deploy.toml keeps its data; destroy takes a final backup and removes it", async () => {
    writeFileSync(path.join(other, "deploy.toml"), readFileSync(path.join(other, "deploy.toml"), "utf8").replace(/\[addons\.redis\][\s\S]*?\n\n/, ""));
    const refused = await qdeploy(other, ["addons", "destroy", "sandbox", "redis"], { env });
    expect(refused.code).not.toBe(0);
    const inst = `qdeploy-${OTHER}-redis`;
    expect(await onVmOk(vm, `systemctl is-active redis-server@${inst}`)).toBe("active\n");
    const r = ok(await qdeploy(other, ["addons", "destroy", "sandbox", "redis", "--yes"], { env }));
    expect(r.stdout).toMatch(/redis: destroyed; its final backup is \S+\.rdb/);
    expect((await onVm(vm, ["systemctl", "is-active", `redis-server@${inst}`])).stdout.trim()).not.toBe("active");
    expect(await onVmOk(vm, `ls /srv/qdeploy/${OTHER}/addons; ls /var/backups/qdeploy/${OTHER}/redis | wc -l`)).toBe("db.env\n1\n");
  }, 3 * MIN);
});
