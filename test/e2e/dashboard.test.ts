/**
 * The dashboard in a real browser (issue 11, item 5): two releases pushed with the CLI to
 * the sandbox, the server in this process over a port, chromium logs in, sees the live
 * release, rolls back to the other one (accepting the confirm), watches the run succeed and
 * sees the live release change, on the VM too; the environment's page draws each process's
 * memory and CPU (sampled on the host) and the pushes as charts. Screenshots at each step,
 * desktop and phone width, go to test-artifacts/dashboard-*.png.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { createApp } from "../../src/serve/app.ts";
import { realDeps } from "../../src/serve/deps.ts";
import { launchBrowser, screenshot, type TestBrowser } from "../browser.ts";
import { cleanApp, get, makeProject, ok, onVmOk, qdeploy, sandbox, writeConfig } from "./harness.ts";

const MIN = 60_000;
const APP = "dash";
// A secret the app gets through the env store: no page may show it.
const SECRET = `dash-Secret-${crypto.randomUUID()}`;
const PHONE = { width: 390, height: 844 };

let vm: SandboxInfo;
let dir: string;
let env: Record<string, string>;
let server: ReturnType<typeof Bun.serve>;
let base: string;
let token: string;
const browsers: TestBrowser[] = [];
let first: string;
let second: string;

async function liveOnVm(): Promise<string[]> {
  const r = ok(await qdeploy(dir, ["releases", "sandbox", "--json"], { env }));
  return (JSON.parse(r.stdout) as { releases: { id: string; live: string[] }[] }).releases.filter((x) => x.live.length).map((x) => x.id);
}

async function logIn(page: Page, shot: string): Promise<void> {
  await page.goto(`${base}/env/sandbox`);
  expect(new URL(page.url()).pathname).toBe("/login"); // no cookie yet: the login form
  await screenshot(page, `${shot}-login`);
  await page.fill("#token", token);
  await page.click("#login");
  await page.waitForURL(`${base}/`);
}

/** Nothing sticks out sideways: a phone scrolls down only. */
async function fitsWidth(page: Page): Promise<void> {
  const [scroll, client] = (await page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")) as [number, number];
  expect(scroll).toBeLessThanOrEqual(client);
}

beforeAll(async () => {
  vm = await sandbox();
  dir = makeProject(APP);
  env = { API_TOKEN: SECRET, XDG_CONFIG_HOME: mkdtempSync(path.join(tmpdir(), "qdeploy-cfg-")) };
  // The in-process server reads the same env store as the CLI.
  Object.assign(process.env, env);
  await cleanApp(vm, APP);
  const secrets = `secrets = { store = "env", names = ["API_TOKEN"] }`;
  writeConfig(dir, vm, { app: APP, stamp: "v1", workers: 1, extra: secrets });
  ok(await qdeploy(dir, ["push", "sandbox"], { env }));
  writeConfig(dir, vm, { app: APP, stamp: "v2", workers: 1, extra: secrets });
  ok(await qdeploy(dir, ["push", "sandbox"], { env }));
  const r = ok(await qdeploy(dir, ["releases", "sandbox", "--json"], { env }));
  const ids = (JSON.parse(r.stdout) as { releases: { id: string }[] }).releases.map((x) => x.id);
  [first, second] = ids.slice(-2) as [string, string];
  expect(await liveOnVm()).toEqual([second]);
  // The charts' samples: the timer takes one a minute; two now, so the page has a line to draw.
  await onVmOk(vm, `systemctl start ${APP}-usage.service && sleep 2 && systemctl start ${APP}-usage.service`);

  const deps = await realDeps({ configFile: path.join(dir, "deploy.toml"), tokenFile: path.join(mkdtempSync(path.join(tmpdir(), "qdeploy-tokens-")), "tokens.json") });
  token = (await deps.tokens.add("e2e-alice", "deploy")).token;
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 120, fetch: createApp(deps).fetch });
  base = `http://127.0.0.1:${server.port}`;
}, 12 * MIN);

afterAll(async () => {
  for (const b of browsers) await b.close();
  server?.stop(true);
  await cleanApp(vm, APP);
}, 2 * MIN);

test("desktop: log in, see the live release, roll back to the other one, see the run succeed and the live release change", async () => {
  const browser = await launchBrowser();
  browsers.push(browser);
  const page = await browser.newPage();
  // Which way the run page followed the run: the API's event stream (200) or its reload fallback.
  const streams: string[] = [];
  page.on("response", (r) => void (r.url().includes("/events") && streams.push(`${r.status()} ${new URL(r.url()).pathname}`)));
  await logIn(page, "dashboard-desktop-1");
  expect(await page.locator("#env-sandbox").textContent()).toContain(second);
  await screenshot(page, "dashboard-desktop-2-home");

  await page.goto(`${base}/env/sandbox`);
  await expect(page.locator("#hosts .live-release").textContent()).resolves.toBe(second);
  expect(await page.locator("button.rollback").count()).toBe(1); // only the release not live
  expect(await page.content()).not.toContain(SECRET);
  // The charts: the web and worker processes' last hour (sampled on the host), the two pushes.
  expect(await page.locator('table.usage tr[data-process="web"] svg.memory polyline').count()).toBe(1);
  expect(await page.locator('table.usage tr[data-process="worker"] svg.memory polyline').count()).toBe(1);
  // CPU is the share since the sample before: the first has none, so two samples are one mark.
  expect(await page.locator('table.usage tr[data-process="web"] svg.cpu :is(polyline, circle)').count()).toBe(1);
  expect(await page.locator("table.usage .now").first().textContent()).toMatch(/^\d+(\.\d)? [kM]B$/);
  expect(await page.locator("figure.deploys rect.live").count()).toBeGreaterThanOrEqual(2);
  await screenshot(page, "dashboard-desktop-3-env");

  let confirmed = "";
  page.once("dialog", async (d) => {
    confirmed = d.message();
    await d.accept();
  });
  await page.click(`button.rollback[data-release="${first}"]`);
  await page.waitForURL(/\/runs\/[0-9a-z-]+$/);
  expect(confirmed).toBe(`Roll sandbox back to release ${first}?`);
  await screenshot(page, "dashboard-desktop-4-run");
  // Live through the API's event stream, or by reloading where there is none: either way the state changes.
  await page.waitForFunction('document.getElementById("run-state")?.textContent !== "running"', null, { timeout: 3 * MIN });
  expect(await page.locator("#run-state").textContent()).toBe("succeeded");
  console.log(`run page event streams: ${streams.join(", ") || "none"}`);
  expect(await page.locator("#run-release").textContent()).toBe(first);
  expect(await page.content()).not.toContain(SECRET);
  await screenshot(page, "dashboard-desktop-5-run-done");

  await page.goto(`${base}/env/sandbox`);
  expect(await page.locator("#hosts .live-release").textContent()).toBe(first);
  expect(await page.locator("#audit").textContent()).toContain("e2e-alice@qdeploy-serve"); // the hosts record who, through the server
  await screenshot(page, "dashboard-desktop-6-env-after");
  expect(await liveOnVm()).toEqual([first]);
  expect((await get(vm, "/version", `${APP}.localhost`)).body.trim()).toBe("v1");
}, 6 * MIN);

test("phone width (390 px): the pages fit, the logs show the journal, a read-only look has no secret", async () => {
  const browser = await launchBrowser({ viewport: PHONE });
  browsers.push(browser);
  const page = await browser.newPage();
  await logIn(page, "dashboard-phone-1");
  await fitsWidth(page);
  await screenshot(page, "dashboard-phone-2-home");
  await page.goto(`${base}/env/sandbox`);
  await fitsWidth(page);
  expect(await page.locator("#hosts .live-release").textContent()).toBe(first);
  expect(await page.locator("figure.deploys rect").count()).toBeGreaterThanOrEqual(2); // the charts fit too (fitsWidth above)
  await screenshot(page, "dashboard-phone-3-env");
  const runLink = page.locator("#runs a").first();
  await runLink.click();
  await page.waitForURL(/\/runs\//);
  await fitsWidth(page);
  expect(await page.locator("#run-state").textContent()).toBe("succeeded");
  await screenshot(page, "dashboard-phone-4-run");
  await page.goto(`${base}/env/sandbox/logs`);
  await expect(page.locator("#log").textContent()).resolves.toContain("listening on 127.0.0.1:");
  expect(await page.content()).not.toContain(SECRET);
  await fitsWidth(page);
  await screenshot(page, "dashboard-phone-5-logs");
}, 4 * MIN);
