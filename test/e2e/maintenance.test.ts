/**
 * Maintenance mode on the sandbox (issue 12, item 5): `on` makes Caddy answer the app's domain
 * with a 503, Retry-After and the custom page; a push and a restart (the switch) keep it, and
 * the switch's health check still reaches the app; `off` gives the app its traffic back.
 * Everything runs through the real CLI against the real VM.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { MAINTENANCE_RETRY_AFTER_SEC } from "../../src/render/caddy.ts";
import { DEFAULT_MAINTENANCE_PAGE } from "../../src/render/maintenance-page.ts";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanApp, makeProject, ok, onVm, onVmOk, qdeploy, sandbox, writeConfig } from "./harness.ts";

const MIN = 60_000;
const APP = "maintapp";
const DOMAIN = `${APP}.localhost`;
const PAGE = `<!doctype html><title>${APP} is resting</title><h1>Back at 10:00 UTC</h1><p>${crypto.randomUUID()}</p>\n`;
let vm: SandboxInfo;
let dir: string;
let pageFile: string;
let env: Record<string, string>;

/** Runs `qdeploy maintenance ACTION sandbox` (the real CLI); its exit code, stdout (text or --json) and stderr. */
function maint(action: "on" | "off" | "status", o: { file?: string; json?: boolean } = {}) {
  return qdeploy(dir, ["maintenance", action, "sandbox", ...(o.file === undefined ? [] : ["--file", o.file]), ...(o.json ? ["--json"] : [])], { env });
}

/** GET https://DOMAIN/PATH through Caddy: status, the headers (lower-case names) and the body. */
async function fetchSite(urlPath = "/", method = "GET") {
  const p = Bun.spawn(
    ["curl", "-sSk", "--max-time", "30", "-X", method, "-D", "-", "--resolve", `${DOMAIN}:${vm.httpsPort}:127.0.0.1`, `https://${DOMAIN}:${vm.httpsPort}${urlPath}`],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  await p.exited;
  const cut = out.indexOf("\r\n\r\n");
  if (cut < 0) throw new Error(`curl got no response: ${err.trim()}`);
  const [statusLine, ...lines] = out.slice(0, cut).split("\r\n");
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  return { status: Number(statusLine!.split(" ")[1]), headers, body: out.slice(cut + 4) };
}

/** The app's live slot answers its health path directly on the VM (the switch's own probe path). */
async function slotHealth(): Promise<string> {
  return (
    await onVmOk(
      vm,
      `port=$(cat /srv/qdeploy/${APP}/live-slot); exec 3<>/dev/tcp/127.0.0.1/$port; printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3; head -1 <&3`,
    )
  ).trim();
}

const liveRelease = async () => (await onVmOk(vm, `readlink /srv/qdeploy/${APP}/current`)).trim();

beforeAll(async () => {
  vm = await sandbox();
  dir = makeProject(APP);
  pageFile = path.join(mkdtempSync(path.join(tmpdir(), "qdeploy-maint-page-")), "down.html");
  writeFileSync(pageFile, PAGE);
  env = { XDG_CONFIG_HOME: mkdtempSync(path.join(tmpdir(), "qdeploy-cfg-")) };
  await cleanApp(vm, APP);
  writeConfig(dir, vm, { app: APP, stamp: "maint-v1", workers: 1 });
  ok(await qdeploy(dir, ["push", "sandbox"], { env }));
}, 10 * MIN);

afterAll(() => cleanApp(vm, APP), MIN);

test("before: the app answers, status is off (text and --json)", async () => {
  const r = await fetchSite("/");
  expect(r.status).toBe(200);
  const text = await maint("status");
  expect(text.code).toBe(0);
  expect(text.stdout).toBe(`root@127.0.0.1:${vm.sshPort}  maintenance off\n`);
  const json = await maint("status", { json: true });
  expect(JSON.parse(json.stdout)).toEqual({
    app: APP,
    env: "sandbox",
    hosts: [{ host: `root@127.0.0.1:${vm.sshPort}`, state: "off", since: null, site: "ready" }],
  });
}, MIN);

test("on --file: every request gets the custom page with 503, Retry-After, no-store; the files are caddy's to read, nobody else's", async () => {
  const on = await maint("on", { file: pageFile });
  expect(on.code).toBe(0);
  expect(on.stdout).toMatch(new RegExp(`^root@127\\.0\\.0\\.1:${vm.sshPort}  maintenance on since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\n$`));
  for (const [urlPath, method] of [["/", "GET"], ["/any/path?q=1", "GET"], ["/form", "POST"]] as const) {
    const r = await fetchSite(urlPath, method);
    expect(r.status).toBe(503);
    expect(r.headers["retry-after"]).toBe(String(MAINTENANCE_RETRY_AFTER_SEC));
    expect(r.headers["cache-control"]).toBe("no-store");
    expect(r.headers["content-type"]).toContain("text/html");
    expect(r.body).toBe(PAGE);
  }
  expect(await onVmOk(vm, `stat -c '%a %U %G' /srv/qdeploy/${APP}/maintenance /srv/qdeploy/${APP}/maintenance/page.html`)).toBe("2750 root caddy\n640 root caddy\n");
  // The switch's health probe goes to the slot's port, around Caddy: the app still answers it.
  expect(await slotHealth()).toMatch(/^HTTP\/1\.[01] 200/);
  const json = JSON.parse((await maint("status", { json: true })).stdout);
  expect(json.hosts[0]).toMatchObject({ state: "on", site: "ready" });
  expect(await onVmOk(vm, `tail -1 /srv/qdeploy/${APP}/audit.log`)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ maintenance on by \S+ \(custom page\)\n$/);
}, MIN);

test("a push (a new release, its own site file) and a restart keep maintenance on", async () => {
  const before = await liveRelease();
  writeConfig(dir, vm, { app: APP, stamp: "maint-v2", workers: 1 });
  ok(await qdeploy(dir, ["push", "sandbox"], { env }));
  expect(await liveRelease()).not.toBe(before);
  let r = await fetchSite("/");
  expect([r.status, r.body]).toEqual([503, PAGE]);
  ok(await qdeploy(dir, ["restart", "sandbox"], { env }));
  r = await fetchSite("/");
  expect([r.status, r.body]).toEqual([503, PAGE]);
  expect(await slotHealth()).toMatch(/^HTTP\/1\.[01] 200/);
}, 5 * MIN);

test("off: the app takes traffic again (the new release's); status off; audited", async () => {
  const off = await maint("off");
  expect(off.code).toBe(0);
  expect(off.stdout).toBe(`root@127.0.0.1:${vm.sshPort}  maintenance off\n`);
  const r = await fetchSite("/");
  expect(r.status).toBe(200);
  expect(r.body).toContain("maint-v2");
  expect(r.headers["retry-after"]).toBeUndefined();
  expect((await onVm(vm, ["test", "-e", `/srv/qdeploy/${APP}/maintenance/page.html`])).code).toBe(1);
  expect(await onVmOk(vm, `tail -1 /srv/qdeploy/${APP}/audit.log`)).toMatch(/ maintenance off by \S+\n$/);
}, MIN);

test("on without --file serves qdeploy's own page; --file with off is a usage error", async () => {
  expect((await maint("on")).code).toBe(0);
  const r = await fetchSite("/");
  expect([r.status, r.body]).toEqual([503, DEFAULT_MAINTENANCE_PAGE]);
  expect((await maint("off")).code).toBe(0);
  expect((await fetchSite("/")).status).toBe(200);
  const misuse = await maint("off", { file: pageFile });
  expect([misuse.code, misuse.stderr]).toEqual([2, 'error: unknown option --file for "maintenance off" (it goes with maintenance on; see qdeploy help maintenance off)\n']);
}, MIN);
