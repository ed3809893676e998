/**
 * Heroku's release phase on the sandbox (issue 9, item 5): it runs once per push, as the
 * app's user in its state directory with the new release's env file, before the new web
 * process starts; a failing one switches nothing and shows its output; rollback runs none.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanApp, get, makeProject, ok, onVm, qdeploy, sandbox, writeConfig } from "./harness.ts";

const MIN = 60_000;
const APP = "relapp";
const TOKEN = `rel-Secret-${crypto.randomUUID()}`;
let vm: SandboxInfo;
let dir: string;
let env: Record<string, string>;

// The release phase appends "RELEASE_ID LOG_LEVEL SECRET_LENGTH" to runs in the state dir
// ($STATE_DIRECTORY; its working directory, the release's app folder, is read-only) and says
// so; with FAIL_RELEASE=1 it fails loudly instead. The
// script's own $VARs are single-quoted (sh expands them); the unquoted $LOG_LEVEL and the
// web's $PORT are expanded by systemd, as Procfile variables are.
const RELEASE = `/bin/sh -c 'if [ "$FAIL_RELEASE" = 1 ]; then echo "migration failed: boom" >&2; exit 7; fi; echo "$QDEPLOY_RELEASE $0 \${#API_TOKEN}" >> "$STATE_DIRECTORY/runs"; echo "migrated $QDEPLOY_RELEASE"' $LOG_LEVEL`;
// The web process reads the record when it starts: it shows how many release phases ran before it.
const WEB = `/bin/sh -c 'APP_MESSAGE="release-runs: $(wc -l < "$STATE_DIRECTORY/runs")" exec /srv/qdeploy/${APP}/slots/$0/bin/hello serve' $PORT`;

function configure(failRelease: boolean, release = RELEASE, extra = ""): void {
  // The secret comes from the local environment (store "env"): the test needs no age tools.
  writeConfig(dir, vm, { app: APP, env: { FAIL_RELEASE: failRelease ? "1" : "0" }, extra: `secrets = { store = "env", names = ["API_TOKEN"] }\n${extra}` });
  const file = path.join(dir, "deploy.toml");
  const text = readFileSync(file, "utf8")
    .replace('main = "./cmd/hello"', 'main = "./cmd/hello"\nbinary = "hello"')
    .replace('web = "hello serve"', `web = '''${WEB}'''\nrelease = '''${release}'''`);
  writeFileSync(file, text);
}

const runs = async () => (await onVm(vm, ["bash", "-c", `cat /var/lib/${APP}/runs 2>/dev/null || true`])).stdout.trim().split("\n").filter(Boolean);
const page = async () => (await get(vm, "/", `${APP}.localhost`)).body;

beforeAll(async () => {
  vm = await sandbox();
  dir = makeProject(APP);
  env = { API_TOKEN: TOKEN, XDG_CONFIG_HOME: mkdtempSync(path.join(tmpdir(), "qdeploy-cfg-")) };
  await cleanApp(vm, APP);
  await onVm(vm, ["rm", "-rf", `/var/lib/${APP}`, `/var/lib/private/${APP}`]);
  configure(false);
}, 10 * MIN);

afterAll(() => cleanApp(vm, APP), MIN);

test("check takes the release phase out of the processes; plan shows it as a step, never a unit", async () => {
  const r = ok(await qdeploy(dir, ["plan", "sandbox"], { env }));
  expect(r.stdout).toContain("-- release phase");
  expect(r.stdout).toContain(`systemd-run --wait --pipe --collect`);
  expect(r.stdout).toContain(`${APP}-release-`);
  expect(r.stdout).not.toContain(`${APP}-release@.service`);
}, 5 * MIN);

test("runs exactly once per push, before the new web starts, with the env file's vars and never a secret in argv", async () => {
  const first = ok(await qdeploy(dir, ["push", "sandbox", "--verbose"], { env }));
  expect(first.stdout + first.stderr).toMatch(/release \| migrated \d+/);
  expect(first.stdout + first.stderr).not.toContain(TOKEN); // the systemd-run argv (printed with --verbose) carries no secret
  expect(await runs()).toHaveLength(1);
  const [id, level, secretLength] = (await runs())[0]!.split(" ");
  expect(id).toMatch(/^\d+$/);
  expect(level).toBe("info"); // from the release's env file, expanded by systemd in the command line
  expect(secretLength).toBe(String(TOKEN.length)); // the secret reached it through the env file
  expect(await page()).toContain("release-runs: 1");

  ok(await qdeploy(dir, ["push", "sandbox"], { env }));
  expect(await runs()).toHaveLength(2);
  expect(await page()).toContain("release-runs: 2"); // the new web started after this push's release phase
  const units = await onVm(vm, ["bash", "-c", `ls /etc/systemd/system | grep -c '^${APP}-release' || true; systemctl list-units --all --no-legend '${APP}-release*' | wc -l`]);
  expect(units.stdout.trim().split("\n")).toEqual(["0", "0"]); // never a service, and collected
}, 12 * MIN);

test("a failing release phase fails the push with its output and status; the live release keeps serving", async () => {
  configure(true);
  const r = await qdeploy(dir, ["push", "sandbox"], { env });
  expect(r.code).toBe(1);
  const all = r.stdout + r.stderr;
  expect(all).toContain("release | migration failed: boom");
  expect(all).toContain("exited with status 7");
  expect(all).toContain("nothing was switched");
  expect(await runs()).toHaveLength(2);
  expect(await page()).toContain("release-runs: 2");
}, 8 * MIN);

test("a release phase that outlives release_timeout is stopped and fails the push", async () => {
  configure(false, "/bin/sleep 60", 'release_timeout = "2s"');
  const t = performance.now();
  const r = await qdeploy(dir, ["push", "sandbox"], { env });
  expect(r.code).toBe(1);
  expect(r.stdout + r.stderr).toContain('release phase "/bin/sleep 60" timed out after 2s (release_timeout)');
  expect(performance.now() - t).toBeLessThan(45_000);
  expect(await page()).toContain("release-runs: 2");
}, 5 * MIN);

test("rollback runs no release phase", async () => {
  configure(false);
  const r = ok(await qdeploy(dir, ["rollback", "sandbox"], { env }));
  expect(r.stdout + r.stderr).not.toContain("release phase");
  expect(await runs()).toHaveLength(2);
  // The warm standby serves: the first push's web process, started before the second push's
  // release phase ran, and not restarted by the rollback.
  expect(await page()).toContain("release-runs: 1");
}, 5 * MIN);
