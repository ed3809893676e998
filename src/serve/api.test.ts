/** /api/v1 over model hosts (test/fixtures/serve-deps.ts): every route, its auth, its errors, the SSE streams. */
import { describe, expect, test } from "bun:test";
import { type FakeServe, fakeServe } from "../../test/fixtures/serve-deps.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { helloConfig } from "../../test/fixtures/config.ts";
import { type FakeHost, MODEL_SHA } from "../../test/fixtures/recording-remote.ts";
import { createApp } from "./app.ts";
import { openApiDocument } from "./openapi.ts";
import type { RunRecord } from "./runs.ts";

type Json = Record<string, any>;

async function setup(o: Parameters<typeof fakeServe>[0] = {}) {
  const f = fakeServe(o);
  const app = createApp(f.deps);
  const read = await f.token("read", { name: "reader" });
  const deploy = await f.token("deploy", { name: "alice" });
  const call = async (method: string, url: string, token: string | null, body?: string) => {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await app.request(url, { method, headers, ...(body !== undefined && { body }) });
    return { res, status: res.status, json: res.headers.get("content-type")?.includes("json") ? ((await res.json()) as Json) : null };
  };
  return { f, app, read, deploy, call };
}

/** An SSE body as [event, data] pairs (comments left out). */
async function sseEvents(res: Response): Promise<[string, any][]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((b) => b.trim() && !b.startsWith(":"))
    .map((b) => {
      const lines = b.split("\n");
      const event = lines.find((l) => l.startsWith("event: "))!.slice(7);
      const data = lines.filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      return [event, JSON.parse(data)];
    });
}

/** A run of `env` that goes on until `finish()` (the server's own one-run-per-environment guard). */
function holdRun(f: FakeServe, env = "prod") {
  let finish = () => {};
  const run = f.deps.runs.start({ env, action: "push", by: "bob", target: "main" }, async ({ events }) => {
    events({ type: "info", line: "building" });
    await new Promise<void>((r) => (finish = r));
    events({ type: "info", line: "done" });
    return { fine: true };
  });
  return { run, finish: () => finish() };
}

const READS = ["/api/v1/openapi.json", "/api/v1/environments", "/api/v1/environments/prod/status", "/api/v1/environments/prod/releases", "/api/v1/environments/prod/audit", "/api/v1/environments/prod/logs", "/api/v1/runs"];
const CHANGES = ["/api/v1/environments/prod/push", "/api/v1/environments/prod/rollback", "/api/v1/environments/prod/restart"];

describe("auth on every route", () => {
  test("no token: 401 on every route; a read token on a POST: 403; an expired token: 401", async () => {
    let now = new Date("2026-12-02T10:00:00Z");
    const { f, call, read } = await setup({ now: () => now });
    const expiring = await f.token("deploy", { name: "short", expiresSec: 60 });
    for (const url of [...READS, "/api/v1/runs/x", "/api/v1/runs/x/events"]) expect([url, (await call("GET", url, null)).status]).toEqual([url, 401]);
    for (const url of CHANGES) {
      expect([url, (await call("POST", url, null, "{}")).status]).toEqual([url, 401]);
      const r = await call("POST", url, read, "{}");
      expect([url, r.status, r.json?.error.kind, r.json?.error.message]).toEqual([url, 403, "forbidden", 'token "reader" has role read; this needs deploy']);
    }
    now = new Date("2026-12-02T10:02:00Z");
    for (const [method, url] of [["GET", READS[1]!], ["POST", CHANGES[2]!]] as const) {
      const r = await call(method, url, expiring, method === "POST" ? "{}" : undefined);
      expect([r.status, r.json?.error.kind]).toEqual([401, "unauthorized"]);
    }
    expect(f.log).toEqual([]);
  });
});

describe("the dashboard's cookie", () => {
  test("lets a GET in (the pages' event streams) but never a POST: those want the bearer header", async () => {
    const { f, app, deploy } = await setup();
    const cookie = { cookie: `qdeploy_token=${deploy}` };
    expect((await app.request("/api/v1/environments", { headers: cookie })).status).toBe(200);
    for (const url of CHANGES) {
      // A page of another port of 127.0.0.1 is the same site: the browser sends the cookie along.
      const res = await app.request(url, { method: "POST", headers: { ...cookie, "content-type": "text/plain", origin: "http://127.0.0.1:3000" }, body: "{}" });
      expect([url, res.status]).toEqual([url, 401]);
    }
    expect(f.deps.runs.list()).toEqual([]);
  });
});

describe("reading", () => {
  test("GET /environments: hosts, each host's processes, the run going on", async () => {
    const { f, call, read } = await setup({ environments: { prod: [{ label: "root@h1:22", live: "20261201000000", releases: ["20261201000000"] }, { label: "root@h2:22", live: null, releases: [] }], staging: [] } });
    const held = holdRun(f, "staging");
    const r = await call("GET", "/api/v1/environments", read);
    expect(r.status).toBe(200);
    expect(r.json!.environments.map((e: Json) => [e.name, e.hosts, e.roles, e.running?.id ?? null])).toEqual([
      ["prod", ["root@h1:22", "root@h2:22"], { "root@h1:22": ["web", "worker"], "root@h2:22": ["web", "worker"] }, null],
      ["staging", [], {}, held.run.record.id],
    ]);
    held.finish();
    await held.run.done;
  });

  test("GET status, releases and audit call the operations on the hosts", async () => {
    const audit = ["2026-12-01T00:00:00Z activated 20261201000000 by t", "2026-12-02T10:00:00Z restarted web by alice@qdeploy-serve"];
    const { f, call, read } = await setup({ environments: { prod: [{ label: "root@h1:22", live: "20261201000000", releases: ["20261201000000"], audit }] } });
    const status = await call("GET", "/api/v1/environments/prod/status", read);
    expect([status.status, status.json!.hosts.map((h: Json) => [h.host, h.live, h.health]), status.json!.drift]).toEqual([200, [["root@h1:22", "20261201000000", "ok"]], null]);
    const releases = await call("GET", "/api/v1/environments/prod/releases", read);
    expect(releases.status).toBe(200);
    expect(releases.json!.releases.map((r: Json) => [r.id, r.live, r.activated, r.by])).toEqual([["20261201000000", ["root@h1:22"], true, "t"]]);
    const entries = await call("GET", "/api/v1/environments/prod/audit?lines=1", read);
    expect([entries.status, entries.json!.entries]).toEqual([200, [{ host: "root@h1:22", time: "2026-12-02T10:00:00Z", line: "restarted web by alice@qdeploy-serve" }]]);
    expect(f.log).toContain("root@h1:22 tail /srv/qdeploy/hello/audit.log");
  });

  test("an unknown environment, run or query value", async () => {
    const { call, read } = await setup();
    for (const url of ["/api/v1/environments/nope/status", "/api/v1/environments/nope/releases", "/api/v1/environments/nope/audit", "/api/v1/environments/nope/logs", "/api/v1/runs?env=nope", "/api/v1/runs/nope", "/api/v1/runs/nope/events"]) {
      const r = await call("GET", url, read);
      expect([url, r.status, r.json?.error.kind]).toEqual([url, 404, "not-found"]);
    }
    const bad = await call("GET", "/api/v1/environments/prod/audit?lines=lots", read);
    expect([bad.status, bad.json!.error.kind, bad.json!.error.message]).toEqual([400, "usage", "?lines=lots: must be a whole number from 1 to 100000"]);
    const proc = await call("GET", "/api/v1/environments/prod/logs?process=db", read);
    expect([proc.status, proc.json!.error.message]).toEqual([400, "?process=db: no such process (processes: web, worker)"]);
  });
});

describe("changing: push, rollback, restart", () => {
  test("POST push: 202 once locked, Location of the run, the run succeeds with the hosts' result; GET /runs and /runs/:id show it", async () => {
    const { f, call, deploy } = await setup();
    const r = await call("POST", "/api/v1/environments/prod/push", deploy, JSON.stringify({ ref: "v1.2" }));
    expect(r.status).toBe(202);
    const run = r.json!.run as RunRecord;
    expect([run.env, run.action, run.by, run.target, run.state]).toEqual(["prod", "push", "alice", "v1.2", "running"]);
    expect(r.res.headers.get("location")).toBe(`/api/v1/runs/${run.id}`);
    expect(f.log).toContain("root@h1:22 locked");
    await f.deps.runs.get(run.id)!.done;
    const one = await call("GET", `/api/v1/runs/${run.id}`, deploy);
    expect([one.json!.run.state, one.json!.run.error]).toEqual(["succeeded", null]);
    expect(f.hosts.prod![0]!.live).not.toBe("20261201000000");
    const list = await call("GET", "/api/v1/runs?env=prod", deploy);
    expect(list.json!.runs.map((x: RunRecord) => x.id)).toEqual([run.id]);
  });

  test("POST rollback with a release and restart with a process; an empty body is the default", async () => {
    const { f, call, deploy } = await setup({ environments: { prod: [{ label: "root@h1:22", live: "20261202000000", releases: ["20261201000000", "20261202000000"] }] } });
    const rb = await call("POST", "/api/v1/environments/prod/rollback", deploy, JSON.stringify({ release: "20261201000000" }));
    expect([rb.status, rb.json!.run.action, rb.json!.run.target]).toEqual([202, "rollback", "20261201000000"]);
    await f.deps.runs.get(rb.json!.run.id)!.done;
    expect(f.hosts.prod![0]!.live).toBe("20261201000000");
    const rs = await call("POST", "/api/v1/environments/prod/restart", deploy, JSON.stringify({ process: "web" }));
    expect([rs.status, rs.json!.run.action, rs.json!.run.target]).toEqual([202, "restart", "web"]);
    await f.deps.runs.get(rs.json!.run.id)!.done;
    const empty = await call("POST", "/api/v1/environments/prod/restart", deploy);
    expect([empty.status, empty.json!.run.target]).toEqual([202, null]);
    await f.deps.runs.get(empty.json!.run.id)!.done;
  });

  test("a bad body is a 400 naming the field; nothing runs", async () => {
    const { f, call, deploy } = await setup();
    for (const [url, body, message] of [
      ["push", "{", "the body is not JSON"],
      ["push", "[]", "the body must be a JSON object (fields: ref)"],
      ["push", '{"ref": 7}', "body.ref: must be a non-empty string"],
      ["push", '{"ref": ""}', "body.ref: must be a non-empty string"],
      ["rollback", '{"ref": "x"}', "body.ref: unknown field (fields: release)"],
      ["restart", '{"process": ["web"]}', "body.process: must be a non-empty string"],
    ] as const) {
      const r = await call("POST", `/api/v1/environments/prod/${url}`, deploy, body);
      expect([url, body, r.status, r.json!.error.kind, r.json!.error.message.startsWith(message)]).toEqual([url, body, 400, "usage", true]);
    }
    expect(f.deps.runs.list()).toEqual([]);
    expect(f.log).toEqual([]);
  });

  test("409 with the holder: a run of the environment is going; a host's deploy lock is held by someone else", async () => {
    const { f, call, deploy } = await setup();
    const held = holdRun(f);
    for (const url of CHANGES) {
      const r = await call("POST", url, deploy, "{}");
      expect([r.status, r.json!.error.kind]).toEqual([409, "lock-held"]);
      expect(r.json!.error.holder).toBe(`bob (push ${held.run.record.id}, since ${held.run.record.started})`);
    }
    held.finish();
    await held.run.done;

    (f.hosts.prod![0] as FakeHost).lockedBy = "carol@laptop (pid 42, since 2026-12-02T09:59:00Z)";
    for (const url of [CHANGES[0]!, CHANGES[1]!]) {
      const r = await call("POST", url, deploy, "{}");
      expect([url, r.status, r.json!.error.kind, r.json!.error.holder]).toEqual([url, 409, "lock-held", "carol@laptop (pid 42, since 2026-12-02T09:59:00Z)"]);
    }
    expect(f.log.some((l) => / (release|activate) /.test(l))).toBe(false);
  });
});

describe("Server-Sent Events", () => {
  test("GET /runs/:id/events: the events so far, the live ones, then end with the record; a finished run replays and ends", async () => {
    const { f, app, read } = await setup();
    const held = holdRun(f);
    const res = await app.request(`/api/v1/runs/${held.run.record.id}/events`, { headers: { authorization: `Bearer ${read}` } });
    expect([res.status, res.headers.get("content-type")]).toEqual([200, "text/event-stream"]);
    const events = sseEvents(res);
    await Bun.sleep(5);
    held.finish();
    const seen = await events;
    expect(seen.map(([e, d]) => (e === "op" ? `op ${d.line}` : `end ${d.state} ${JSON.stringify(d.result)}`))).toEqual(["op building", "op done", 'end succeeded {"fine":true}']);
    expect(seen.at(-1)![1].id).toBe(held.run.record.id);
    const again = await sseEvents(await app.request(`/api/v1/runs/${held.run.record.id}/events`, { headers: { authorization: `Bearer ${read}` } }));
    expect(again).toEqual(seen);
  });

  test("a push's stream carries its locked event and ends with the DeployReport", async () => {
    const { f, app, call, deploy } = await setup();
    const r = await call("POST", "/api/v1/environments/prod/push", deploy, "{}");
    const seen = await sseEvents(await app.request(`/api/v1/runs/${r.json!.run.id}/events`, { headers: { authorization: `Bearer ${deploy}` } }));
    expect(seen.some(([e, d]) => e === "op" && d.type === "locked")).toBe(true);
    const [last, record] = seen.at(-1)!;
    expect([last, record.state, Array.isArray(record.result.hosts)]).toEqual(["end", "succeeded", true]);
    expect(f.deps.runs.get(r.json!.run.id)!.record.state).toBe("succeeded");
  });

  test("GET logs: each journal line as `event: line` {host, line}, then end", async () => {
    const { f, app, read } = await setup({
      environments: {
        prod: [
          { label: "root@h1:22", live: null, releases: [], journal: ["a1", "a2"] },
          { label: "root@h2:22", live: null, releases: [], journal: ["b1"] },
        ],
      },
    });
    const res = await app.request("/api/v1/environments/prod/logs?process=web&lines=20", { headers: { authorization: `Bearer ${read}` } });
    const seen = await sseEvents(res);
    expect(seen.filter(([e]) => e === "line").map(([, d]) => `${d.host} ${d.line}`).sort()).toEqual(["root@h1:22 a1", "root@h1:22 a2", "root@h2:22 b1"]);
    expect(seen.at(-1)).toEqual(["end", { ok: true }]);
    expect(f.log).toContain("root@h1:22 journalctl -u hello-web@*.service --no-pager -o short-iso -n 20");
  });

  test("GET logs?follow=1 streams until the client goes away, which stops journalctl on every host", async () => {
    const { f, app, read } = await setup({ environments: { prod: [{ label: "root@h1:22", live: null, releases: [], journal: ["x"] }] } });
    const client = new AbortController();
    const res = await app.request("/api/v1/environments/prod/logs?follow=1", { headers: { authorization: `Bearer ${read}` }, signal: client.signal });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe('event: line\ndata: {"host":"root@h1:22","line":"x"}\n\n');
    expect(f.log.some((l) => l.includes("journalctl") && l.endsWith(" -f -n 100"))).toBe(true);
    expect(f.log).not.toContain("root@h1:22 journalctl stopped");
    await reader.cancel();
    await Bun.sleep(10);
    expect(f.log).toContain("root@h1:22 journalctl stopped");
    expect(f.log.at(-1)).toBe("root@h1:22 closed");
  });
});

describe("log stream caps", () => {
  test("follows over the token's or the environment's cap are a 429 with Retry-After; one-shot reads do not count; a client that leaves makes room", async () => {
    const { f, app, call } = await setup({ environments: { prod: [{ label: "root@h1:22", live: null, releases: [], journal: ["x"] }] } });
    const tokens = [await f.token("read", { name: "r1" }), await f.token("read", { name: "r2" }), await f.token("read", { name: "r3" })];
    const open: { cancel(): Promise<void> }[] = [];
    const follow = async (token: string) => {
      const res = await app.request("/api/v1/environments/prod/logs?follow=1", { headers: { authorization: `Bearer ${token}` } });
      if (res.status === 200) open.push(res.body!.getReader());
      return res;
    };
    try {
      const statuses: number[] = [];
      for (const t of [tokens[0]!, tokens[0]!, tokens[0]!, tokens[0]!, tokens[0]!, tokens[1]!, tokens[1]!, tokens[1]!, tokens[1]!, tokens[2]!]) statuses.push((await follow(t)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 429, 200, 200, 200, 200, 429]);
      const refused = await follow(tokens[2]!);
      expect([refused.headers.get("retry-after"), ((await refused.json()) as Json).error]).toEqual(["30", { kind: "too-many", message: "prod already has 8 log streams following, the most one environment may", hint: "close one (a tab following logs), or try again later" }]);
      expect((await call("GET", "/api/v1/environments/prod/logs?lines=1", tokens[2]!)).status).toBe(200);
      await open.shift()!.cancel();
      await Bun.sleep(10);
      expect((await follow(tokens[2]!)).status).toBe(200);
    } finally {
      for (const r of open) await r.cancel();
    }
  });
});

describe("openapi.json", () => {
  test("documents exactly the routes the API has", async () => {
    const { app, call, read } = await setup();
    const routes = new Set(
      app.routes
        .filter((r) => r.path.startsWith("/api/v1/") && r.method !== "ALL")
        .map((r) => `${r.method.toLowerCase()} ${r.path.slice("/api/v1".length).replace(/:(\w+)/g, "{$1}")}`),
    );
    const doc = openApiDocument();
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)));
    expect([...documented].sort()).toEqual([...routes].sort());
    const served = await call("GET", "/api/v1/openapi.json", read);
    expect([served.status, served.json!.openapi]).toEqual([200, "3.1.0"]);
  });
});

describe("promote", () => {
  const releases = (live: string, ids: string[]) => [{ label: `root@${live}:22`, live: ids.at(-1)!, releases: ids }];
  const twoEnvs = () => setup({ environments: { staging: releases("s1", ["20261203000000"]), prod: releases("p1", ["20261201000000"]) }, cfg: { ...helloConfig, root: mkdtempSync(path.join(tmpdir(), "qdeploy-promote-")) } });

  test("POST promote {from}: staging's live release becomes prod's next one, its program read from staging's host; the run says where from", async () => {
    const { f, call, deploy } = await twoEnvs();
    const r = await call("POST", "/api/v1/environments/prod/promote", deploy, JSON.stringify({ from: "staging" }));
    expect([r.status, r.json!.run.env, r.json!.run.action, r.json!.run.target]).toEqual([202, "prod", "promote", "staging"]);
    const run = f.deps.runs.get(r.json!.run.id)!;
    await run.done;
    expect([run.record.state, run.record.error]).toEqual(["succeeded", null]);
    expect(f.log).toContain("root@s1:22 manifest 20261203000000");
    expect(f.log).toContain(`root@s1:22 blobs ${MODEL_SHA.slice(0, 12)}`);
    // prod's host got a new release (its own id) and switched to it; nothing was built.
    const prod = f.hosts.prod![0]!;
    expect(prod.releases).toHaveLength(2);
    expect(prod.live).toBe(prod.releases[1]!);
    expect(f.events.some((e) => e.type === "info" && e.line.startsWith("promoting staging's release 20261203000000 to prod: no build"))).toBe(true);
  });

  test("from is required, must be served and not the environment itself; a release staging lacks is refused, prod unchanged", async () => {
    const { f, call, deploy } = await twoEnvs();
    const none = await call("POST", "/api/v1/environments/prod/promote", deploy, "{}");
    expect([none.status, none.json!.error.message]).toEqual([400, "body.from: the environment whose release to promote is required"]);
    expect((await call("POST", "/api/v1/environments/prod/promote", deploy, JSON.stringify({ from: "dev" }))).status).toBe(404);
    expect((await call("POST", "/api/v1/environments/prod/promote", deploy, JSON.stringify({ from: "prod" }))).json!.error.message).toContain("promote: prod to itself");
    // It fails before prod's lock is taken: the answer is the error, as for any deploy that cannot start.
    const r = await call("POST", "/api/v1/environments/prod/promote", deploy, JSON.stringify({ from: "staging", release: "20000101000000" }));
    expect([r.status, r.json!.error.message]).toEqual([422, "release 20000101000000 is not on any host of staging (they have: 20261203000000)"]);
    expect(f.hosts.prod![0]!.releases).toEqual(["20261201000000"]);
  });
});

describe("previews ([previews])", () => {
  const record = (n: number) => ({ name: `pr-${n}`, of: "hello", app: `hello-pr-${n}`, url: `https://pr-${n}.preview.example.com/`, pr: n, commit: "c0ffee", created: "2026-12-01T00:00:00.000Z", updated: "2026-12-01T00:00:00.000Z" });
  async function withPreviews() {
    const previews = { environment: "prod", domainSuffix: "preview.example.com", max: 1, ttlSec: 3600, forks: false, seed: false, scrub: null };
    const s = await setup({ cfg: { ...helloConfig, previews }, environments: { prod: [{ label: "root@h1:22", live: "20261201000000", releases: ["20261201000000"], previews: [record(7)] }] } });
    s.f.deps.previews = previews;
    return s;
  }

  test("GET lists them from their host; a new one over previews.max is 422 naming the live ones, before anything runs", async () => {
    const { f, call, read, deploy } = await withPreviews();
    const list = await call("GET", "/api/v1/previews", read);
    expect([list.status, list.json!.previews]).toEqual([200, [record(7)]]);
    const over = await call("POST", "/api/v1/previews", deploy, JSON.stringify({ ref: "feature", pr: "8" }));
    expect([over.status, over.json!.error.message]).toEqual([422, "preview pr-8 was not made: 1 previews are alive, previews.max is 1: pr-7. Close a pull request or run qdeploy previews destroy NAME first"]);
    expect((await call("POST", "/api/v1/previews", deploy, JSON.stringify({ ref: "feature", pr: "x" }))).status).toBe(400);
    expect((await call("POST", "/api/v1/previews", read, JSON.stringify({ ref: "feature" }))).status).toBe(403);
    expect(f.deps.runs.list()).toEqual([]);
  });

  test("DELETE destroys one (7 or pr-7) as a run keyed ENV/pr-N; a name that is not a preview's is 400", async () => {
    const { f, call, deploy } = await withPreviews();
    expect((await call("DELETE", "/api/v1/previews/..%2Fetc", deploy)).status).toBe(400);
    const r = await call("DELETE", "/api/v1/previews/7", deploy);
    expect([r.status, r.json!.run.env, r.json!.run.action, r.json!.run.target]).toEqual([202, "prod/pr-7", "preview-destroy", "pr-7"]);
    const run = f.deps.runs.get(r.json!.run.id)!;
    await run.done;
    expect([run.record.state, run.record.error]).toEqual(["succeeded", null]);
    expect(f.log).toContain("root@h1:22 destroy hello-pr-7");
    expect(f.hosts.prod![0]!.previews).toEqual([]);
  });

  test("without [previews]: 404", async () => {
    const { call, read } = await setup();
    const r = await call("GET", "/api/v1/previews", read);
    expect([r.status, r.json!.error.message]).toEqual([404, "this server makes no previews: add [previews] to deploy.toml"]);
  });
});
