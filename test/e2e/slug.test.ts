/**
 * A Heroku-shaped app that needs its files (issue 20): examples/slug reads templates/,
 * static/, public/ and (in its release phase, a cgo sqlite program) migrations/ from its
 * working directory; its Procfile uses bash's forms (`VAR=$PORT ./bin/web`, `export X && ...`,
 * `a && b`); it is vendored (`go mod vendor`, as a vendored app is), and its app.json requires
 * a secret. `init` writes the deploy.toml; the edits are the sandbox's address and SSH files.
 * One push is shared by the checks of what runs where; then one template changes, and only
 * that file travels; a rollback serves the old template again.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanApp, get, ok, onVmOk, qdeploy, REPO, sandbox } from "./harness.ts";

const MIN = 60_000;
const APP = "slugapp";
const DOMAIN = `${APP}.localhost`;
const ROOT = `/srv/qdeploy/${APP}`;
let vm: SandboxInfo;
let dir: string;
let env: Record<string, string>;

function run(cmd: string[], cwd = dir): string {
  const r = Bun.spawnSync(cmd, { cwd, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}
const git = (...args: string[]) => run(["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.com", ...args]);
const page = async (p: string) => {
  const r = await get(vm, p, DOMAIN);
  return { status: r.status, body: r.body.replace(/\n$/, "") };
};

beforeAll(async () => {
  vm = await sandbox();
  await cleanApp(vm, APP);
  await onVmOk(vm, `rm -rf /var/lib/${APP} /var/lib/private/${APP}`);
  dir = mkdtempSync(path.join(tmpdir(), "qdeploy-e2e-slug-"));
  cpSync(path.join(REPO, "examples/slug"), dir, { recursive: true });
  // As a vendored app: vendor/ filled from the module proxy (not committed here: ~10 MB of C).
  run(["go", "mod", "vendor"]);
  git("init", "-q");
  git("add", ".");
  git("commit", "-qm", "the app as it is on Heroku");
  env = { QDEPLOY_AGE_KEY: run(["age-keygen"]), XDG_CONFIG_HOME: mkdtempSync(path.join(tmpdir(), "qdeploy-cfg-")) };
}, 10 * MIN);

describe("an app that reads its own files", () => {
  test("init, the sandbox's address, the secret app.json requires: check passes", async () => {
    const init = ok(await qdeploy(dir, ["init"], { env }));
    // app.json's required secret is named with the line that sets it.
    expect(init.stdout + init.stderr).toContain("SESSION_SECRET");
    let toml = readFileSync(path.join(dir, "deploy.toml"), "utf8");
    toml = toml
      .replace('hosts = ["root@127.0.0.1:2222"]', `hosts = ["root@127.0.0.1:${vm.sshPort}"]`)
      .replace(
        'ssh = { identity = ".qdeploy/sandbox/id_ed25519", known_hosts = ".qdeploy/sandbox/known_hosts" }',
        `ssh = { identity = ${JSON.stringify(vm.identity)}, known_hosts = ${JSON.stringify(vm.knownHosts)} }`,
      );
    // The release phase is a cgo program (mattn/go-sqlite3).
    if (!/^cgo = true/m.test(toml)) toml = toml.replace(/^\[build\].*$/m, "$&\ncgo = true");
    writeFileSync(path.join(dir, "deploy.toml"), toml);
    ok(await qdeploy(dir, ["secrets", "set", "sandbox", "SESSION_SECRET"], { env, stdin: "e2e-session-secret\n" }));
    ok(await qdeploy(dir, ["check", "sandbox"], { env }));
    git("add", ".");
    git("commit", "-qm", "qdeploy init");
  }, 2 * MIN);

  test("push: every page and asset answers from the slug; the release phase read migrations/", async () => {
    const r = ok(await qdeploy(dir, ["push", "sandbox"], { env }));
    expect(r.stdout).toMatch(/slug: \d+ files/);
    const home = await page("/");
    expect(home.status).toBe(200);
    expect(home.body).toContain("slugapp template v1");
    expect(home.body).toContain("Hello from app.json");
    expect((await page("/healthz")).body).toBe("ok");
    expect(await page("/static/style.css")).toMatchObject({ status: 200 });
    expect((await page("/public/robots.txt")).body).toContain("User-agent");
    expect((await page("/public/about.html")).status).toBe(200);
    const logo = Bun.spawnSync(["curl", "-sSk", "--resolve", `${DOMAIN}:${vm.httpsPort}:127.0.0.1`, `https://${DOMAIN}:${vm.httpsPort}/static/logo.png`]).stdout;
    expect(Buffer.from(logo).equals(readFileSync(path.join(dir, "static/logo.png")))).toBe(true);
    expect((await page("/migrations")).body.split("\n")).toEqual(["0001_create_notes", "0002_seed_notes"]);
    expect(r.stdout).toContain("release | migrated");
  }, 15 * MIN);

  test("where it runs: the release's app folder, HOME there, bin/ first on PATH, the Procfile's VAR=$PORT", async () => {
    const vars = Object.fromEntries((await page("/env")).body.split("\n").map((l) => l.split("=", 2) as [string, string]));
    const live = (await onVmOk(vm, `readlink ${ROOT}/current`)).trim().split("/").at(-1);
    expect(vars.cwd).toBe(`${ROOT}/releases/${live}/app`);
    expect(vars.HOME).toMatch(new RegExp(`^${ROOT}/slots/\\d+/app$`));
    expect(vars.PATH).toStartWith(`${vars.HOME}/bin:`);
    expect(vars.WEB_SERVER_PORT).toBe(vars.PORT);
    expect(vars["SESSION_SECRET set"]).toBe("true");
    // `export WORKER='true' && bin/worker`: the worker runs, with the variable.
    expect(await onVmOk(vm, `systemctl is-active ${APP}-worker@1.service`)).toBe("active\n");
    expect(await onVmOk(vm, `journalctl -u ${APP}-worker@1.service -o cat --no-pager | grep -c 'worker started WORKER=true' || true`)).not.toBe("0\n");
  }, 2 * MIN);

  test("the slug is read-only to the app; $STATE_DIRECTORY keeps what it writes", async () => {
    expect((await page("/write")).body).toContain("read-only file system");
    expect((await page("/state")).body).toMatch(/^counter \d+$/);
    // What .slugignore and qdeploy leave out is not there; the programs are in app/bin.
    const files = await onVmOk(vm, `cd ${ROOT}/current/app && find . -path ./bin -prune -o -type f -print | sort`);
    expect(files).not.toContain("docs/");
    expect(files).not.toContain(".md");
    expect(files).not.toContain("deploy.toml");
    expect(files).toContain("./templates/index.tmpl.html");
    expect((await onVmOk(vm, `ls ${ROOT}/current/app/bin`)).split("\n").filter(Boolean).sort()).toEqual(["migrate", "web", "worker"]);
  }, 2 * MIN);

  test("a changed template: only that file travels, no binary; rollback serves the old one", async () => {
    const file = path.join(dir, "templates/index.tmpl.html");
    writeFileSync(file, readFileSync(file, "utf8").replace("slugapp template v1", "slugapp template v2"));
    git("commit", "-qam", "template v2");
    const since = (await onVmOk(vm, "date +%s")).trim();
    const r = ok(await qdeploy(dir, ["push", "sandbox"], { env }));
    expect(r.stdout).toContain("uploading the slug's 1 new file");
    expect(r.stdout).toContain("is already on the host: nothing to upload");
    expect(r.stdout).not.toMatch(/uploading the x86_64 binary/);
    // The template's bytes compressed in a pack, no binary: under a kilobyte ("N B", not "N kB").
    const sent = /live \(push [\d.]+s, (\d+) B sent\)/.exec(r.stdout)?.[1];
    expect(Number(sent)).toBeGreaterThan(0);
    expect((await page("/")).body).toContain("slugapp template v2");
    // The rollback flips to v1's web process, kept running as the warm standby; v2's, left,
    // drains on SIGTERM through the Procfile's bash line (after the rollback has returned).
    ok(await qdeploy(dir, ["rollback", "sandbox"], { env }));
    expect((await page("/")).body).toContain("slugapp template v1");
    const journal = () => onVmOk(vm, `journalctl -u '${APP}-web@*' --since @${since} -o cat --no-pager`);
    const deadline = Date.now() + 60_000;
    while (!/draining[\s\S]*drained/.test(await journal()) && Date.now() < deadline) await Bun.sleep(500);
    expect(await journal()).toMatch(/draining[\s\S]*drained/);
  }, 10 * MIN);

  test("kept releases share blobs: a template is on disk once however many releases hold it", async () => {
    const links = await onVmOk(vm, `stat -c %h ${ROOT}/current/app/static/style.css`);
    expect(Number(links)).toBeGreaterThanOrEqual(3); // the blob and two releases
  }, MIN);
});
