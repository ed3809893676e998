/**
 * The JSON API over the real deps (SSH) against the sandbox VM: status and releases as the
 * hosts report them, a restart run streamed to its end, and `logs?follow=1` whose client
 * leaving stops journalctl on the host.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { realDeps } from "../../src/serve/deps.ts";
import { type RunningServer, startServer } from "../../src/serve/serve.ts";
import { promParse } from "../prom-parse.ts";
import { cleanApp, makeProject, ok, onVm, qdeploy, sandbox, writeConfig } from "./harness.ts";

const MIN = 60_000;
let vm: SandboxInfo;
let server: RunningServer;
let read: string;
let deploy: string;

const api = async (method: string, url: string, token: string, body?: unknown) => {
  const res = await fetch(`${server.url}/api/v1${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { "content-type": "application/json" }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
};

const journalctls = async () => (await onVm(vm, ["sh", "-c", "pgrep -x journalctl | wc -l"])).stdout.trim();

beforeAll(async () => {
  vm = await sandbox();
  const dir = makeProject("serve-api");
  await cleanApp(vm, "hello");
  for (const stamp of ["api1", "api2"]) {
    writeConfig(dir, vm, { stamp });
    ok(await qdeploy(dir, ["push", "sandbox"]));
  }
  const deps = await realDeps({ configFile: path.join(dir, "deploy.toml"), tokenFile: path.join(mkdtempSync(path.join(tmpdir(), "qdeploy-serve-e2e-")), "tokens.json") });
  read = (await deps.tokens.add("viewer", "read")).token;
  deploy = (await deps.tokens.add("alice", "deploy")).token;
  server = startServer(deps, { host: "127.0.0.1", port: 0 });
}, 10 * MIN);

afterAll(async () => {
  await server?.stop();
});

describe("the API against the sandbox", () => {
  test("status and releases say what the host runs", async () => {
    const status = await api("GET", "/environments/sandbox/status", read);
    expect(status.status).toBe(200);
    const host = status.json.hosts[0];
    expect([host.health, host.units.filter((u: { active: string }) => u.active === "active").length > 0, status.json.drift]).toEqual(["ok", true, null]);
    const releases = await api("GET", "/environments/sandbox/releases", read);
    const ids = releases.json.releases.map((r: { id: string }) => r.id);
    expect([ids.length, ids.at(-1), releases.json.releases.every((r: { activated: boolean }) => r.activated)]).toEqual([2, host.live, true]);
  }, MIN);

  test("POST rollback takes the host's lock and goes back; the audit log records the token's name; a second one meanwhile is a 409", async () => {
    const before = (await api("GET", "/environments/sandbox/releases", read)).json.releases.map((r: { id: string }) => r.id);
    const r = await api("POST", "/environments/sandbox/rollback", deploy);
    expect([r.status, r.json.run.action]).toEqual([202, "rollback"]);
    const second = await api("POST", "/environments/sandbox/push", deploy, { ref: "HEAD" });
    expect([second.status, second.json.error.kind, second.json.error.holder.startsWith("alice (rollback ")]).toEqual([409, "lock-held", true]);
    const res = await fetch(`${server.url}/api/v1/runs/${r.json.run.id}/events`, { headers: { authorization: `Bearer ${read}` } });
    const end = (await res.text()).split("\n\n").find((b) => b.startsWith("event: end"))!;
    expect(JSON.parse(end.slice(end.indexOf("data: ") + 6)).state).toBe("succeeded");
    const status = await api("GET", "/environments/sandbox/status", read);
    expect(status.json.hosts[0].live).toBe(before[0]);
    const audit = await api("GET", "/environments/sandbox/audit?lines=1", read);
    // The first release's web process was still running as the warm standby: a flip.
    expect(audit.json.entries[0].line).toBe(`activated ${before[0]} by alice@qdeploy-serve (the standby)`);
  }, 2 * MIN);

  test("POST restart: a run whose events stream to its end; the audit log records it", async () => {
    const r = await api("POST", "/environments/sandbox/restart", deploy, { process: "web" });
    expect(r.status).toBe(202);
    const res = await fetch(`${server.url}/api/v1/runs/${r.json.run.id}/events`, { headers: { authorization: `Bearer ${read}` } });
    const text = await res.text();
    expect(text).toContain("restarted web");
    const end = text.split("\n\n").find((b) => b.startsWith("event: end"))!;
    expect(JSON.parse(end.slice(end.indexOf("data: ") + 6)).state).toBe("succeeded");
    const audit = await api("GET", "/environments/sandbox/audit?lines=5", read);
    expect(audit.json.entries[0].line).toMatch(/^activated \d+ by alice@qdeploy-serve \(restart\) \(web only\)$/);
  }, 2 * MIN);

  test("GET /metrics: the runs above counted, and what the host runs, read from it; Prometheus's parser reads it", async () => {
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${read}` } });
    expect(res.status).toBe(200);
    const f = promParse(await res.text());
    const count = (action: string) => f.qdeploy_deploys_total!.samples.find((s) => s.labels.action === action && s.labels.outcome === "succeeded")?.value;
    expect([count("rollback"), count("restart")]).toEqual([1, 1]);
    const live = (await api("GET", "/environments/sandbox/status", read)).json.hosts[0].live;
    expect(f.qdeploy_live_release_info!.samples.map((s) => s.labels.release)).toEqual([live]);
    expect(f.qdeploy_web_healthy!.samples[0]!.value).toBe(1);
    const web = f.qdeploy_unit_memory_bytes!.samples.find((s) => s.labels.unit!.startsWith("hello-web@"));
    expect(web!.value).toBeGreaterThan(1_000_000);
  }, MIN);

  test("logs?follow=1 streams journal lines; when the client goes away journalctl stops on the host", async () => {
    expect(await journalctls()).toBe("0");
    const client = new AbortController();
    const res = await fetch(`${server.url}/api/v1/environments/sandbox/logs?process=web&lines=5&follow=1`, { headers: { authorization: `Bearer ${read}` }, signal: client.signal });
    const reader = res.body!.getReader();
    let text = "";
    while (!text.includes("event: line")) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain('"host":"root@127.0.0.1:');
    expect(await journalctls()).toBe("1");
    client.abort();
    let left = "1";
    for (const deadline = Date.now() + 30_000; left !== "0" && Date.now() < deadline; ) {
      await Bun.sleep(250);
      left = await journalctls();
    }
    expect(left).toBe("0");
  }, MIN);
});
