/**
 * A Heroku-shaped app deploys as it is (issue 9): examples/heroku, whose go.mod pins an older
 * Go line (`// +heroku goVersion go1.25`) and names its programs (`// +heroku install
 * ./cmd/...`), whose Procfile runs `bin/web`, `bin/worker --queue default` and the release
 * phase `bin/migrate`, with GO_LINKER_SYMBOL exported as on Heroku. `init` writes the
 * deploy.toml; the only edits are the sandbox's host and SSH files.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanApp, get, ok, onVmOk, qdeploy, REPO, sandbox } from "./harness.ts";

const MIN = 60_000;
const APP = "herokuapp";
const DOMAIN = `${APP}.localhost`;
let vm: SandboxInfo;
let dir: string;
let commit: string;
// Exported as a Heroku app sets it; the value defaults to the commit ($SOURCE_VERSION there).
const env = { GO_LINKER_SYMBOL: "main.version" };

function git(...args: string[]): string {
  const r = Bun.spawnSync(["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.com", ...args], { cwd: dir });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

const migrations = async () => (await get(vm, "/migrations", DOMAIN)).body.split("\n").filter(Boolean);
/** A page's body without its final newline. */
const page = async (urlPath: string) => {
  const r = await get(vm, urlPath, DOMAIN);
  return { status: r.status, body: r.body.replace(/\n$/, "") };
};

beforeAll(async () => {
  vm = await sandbox();
  await cleanApp(vm, APP);
  dir = mkdtempSync(path.join(tmpdir(), "qdeploy-e2e-heroku-"));
  cpSync(path.join(REPO, "examples/heroku"), dir, { recursive: true });
  git("init", "-q");
  git("add", ".");
  git("commit", "-qm", "the app as it is on Heroku");
  commit = git("rev-parse", "HEAD");
}, 10 * MIN);

describe("a Heroku-shaped app", () => {
  test("init writes a deploy.toml that check accepts; only the sandbox's address is edited", async () => {
    ok(await qdeploy(dir, ["init"]));
    const written = readFileSync(path.join(dir, "deploy.toml"), "utf8");
    expect(written).toContain('main = "./cmd/..."');
    expect(readFileSync(path.join(dir, ".gitignore"), "utf8")).toContain(".qdeploy/build\n.qdeploy/sandbox\n");
    // The edits a user makes: the sandbox host's port and its SSH files.
    const edited = written
      .replace('hosts = ["root@127.0.0.1:2222"]', `hosts = ["root@127.0.0.1:${vm.sshPort}"]`)
      .replace(
        'ssh = { identity = ".qdeploy/sandbox/id_ed25519", known_hosts = ".qdeploy/sandbox/known_hosts" }',
        `ssh = { identity = ${JSON.stringify(vm.identity)}, known_hosts = ${JSON.stringify(vm.knownHosts)} }`,
      );
    expect(edited).not.toBe(written);
    writeFileSync(path.join(dir, "deploy.toml"), edited);
    ok(await qdeploy(dir, ["check"]));
    // As a user would: commit what init wrote, so the build is of a clean commit.
    git("add", ".");
    git("commit", "-qm", "qdeploy init");
    commit = git("rev-parse", "HEAD");
  });

  test("push builds three programs with the pinned Go line's newest release and serves over HTTPS", async () => {
    const r = ok(await qdeploy(dir, ["push", "sandbox"], { env }));
    expect(r.stdout).toContain(`https://${DOMAIN}:${vm.httpsPort}/`);
    // The build output says which Go built each binary.
    for (const name of ["web", "worker", "migrate"]) expect(r.stdout).toMatch(new RegExp(`built ${name} for linux/amd64 .*\\(go1\\.25\\.\\d+\\)`));
    const home = await page("/");
    expect(home.status).toBe(200);
    expect(home.body).toMatch(new RegExp(`^herokuapp web go1\\.25\\.\\d+ ${commit}$`));
    expect(await onVmOk(vm, `systemctl is-active ${APP}-worker@1.service`)).toBe("active\n");
    // The release phase ran once, as the app, before the new web started; it is no unit.
    expect(await migrations()).toHaveLength(1);
    expect((await migrations())[0]).toEndWith(` ${commit}`);
    expect((await page("/boot")).body).toBe("migrations at start: 1");
    expect(await onVmOk(vm, `ls /srv/qdeploy/${APP}/current/units`)).not.toContain("release");
  }, 10 * MIN);

  test("each push runs the release phase exactly once more, before the web starts", async () => {
    ok(await qdeploy(dir, ["push", "sandbox"], { env }));
    expect(await migrations()).toHaveLength(2);
    expect((await page("/boot")).body).toBe("migrations at start: 2");
  }, 10 * MIN);

  test("a failing release phase fails the push and leaves the live release serving", async () => {
    const live = await onVmOk(vm, `readlink -f /srv/qdeploy/${APP}/current`);
    // An app config var, as `heroku config:set FAIL_RELEASE=1` would be.
    writeFileSync(path.join(dir, "deploy.toml"), readFileSync(path.join(dir, "deploy.toml"), "utf8").replace(/^\[env\].*$/m, '$&\nFAIL_RELEASE = "1"'));
    const r = await qdeploy(dir, ["push", "sandbox"], { env });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("FAIL_RELEASE=1, failing on purpose");
    expect(r.stderr).toContain("nothing was switched");
    expect(await onVmOk(vm, `readlink -f /srv/qdeploy/${APP}/current`)).toBe(live);
    expect((await page("/")).body).toMatch(new RegExp(`^herokuapp web go1\\.25\\.\\d+ ${commit}$`));
    expect(await migrations()).toHaveLength(2);
  }, 10 * MIN);
});
