import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { helloConfig } from "../../test/fixtures/config.ts";
import { fakeServe } from "../../test/fixtures/serve-deps.ts";
import { RemoteError } from "../errors.ts";
import { createApp } from "./app.ts";
import { TOKEN_COOKIE } from "./auth.ts";
import { canRollBackTo, releaseTags } from "./pages/environment.tsx";

const ORIGIN = "http://localhost";
const OLD = "20261201000000";
const NEW = "20261202000000";

/** usage.log on the host: two samples of the web slot a minute apart, 3 s of CPU between them. */
const nowSec = Math.floor(Date.now() / 1000);
const USAGE = [`${nowSec - 60} hello-web@8101.service 10485760 1000000000`, `${nowSec} hello-web@8101.service 12582912 4000000000`];

/** prod: one host, live on NEW, OLD before it (what a rollback goes back to). */
function twoReleases(secrets: Record<string, string> = {}) {
  return fakeServe({
    environments: { prod: [{ label: "root@h1:22", live: NEW, releases: [OLD, NEW], audit: [`2026-12-02T10:00:00Z activated ${NEW} by alice@laptop`], journal: ["2026-12-02T10:00:01+00:00 h1 hello[1]: listening on :8101"], usage: USAGE }] },
    secrets,
  });
}

const cookie = (token: string) => ({ cookie: `${TOKEN_COOKIE}=${token}` });
const form = (fields: Record<string, string>, headers: Record<string, string> = {}) => ({
  method: "POST",
  body: new URLSearchParams(fields),
  headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN, ...headers },
});

describe("dashboard: login", () => {
  test("GET /login is a form for the token, viewport set for a phone", async () => {
    const res = await createApp(fakeServe().deps).request("/login");
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toContain('<form method="post" action="/login">');
    expect(html).toContain('name="token"');
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1"/>');
  });

  test("POST /login with a good token sets the cookie HttpOnly, SameSite=Strict, Path=/ and redirects to /; Secure behind https", async () => {
    const f = fakeServe();
    const app = createApp(f.deps);
    const token = await f.token("read");
    const res = await app.request("/login", form({ token }));
    expect([res.status, res.headers.get("location")]).toEqual([303, "/"]);
    expect(res.headers.get("set-cookie")).toBe(`${TOKEN_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict`);
    const proxied = await app.request("/login", form({ token }, { "x-forwarded-proto": "https", origin: "https://localhost" }));
    expect(proxied.status).toBe(303);
    expect(proxied.headers.get("set-cookie")).toBe(`${TOKEN_COOKIE}=${token}; Path=/; HttpOnly; Secure; SameSite=Strict`);
  });

  test("a wrong token: the form again with the reason, 401, no cookie", async () => {
    const f = fakeServe();
    const res = await createApp(f.deps).request("/login", form({ token: "qdp_nope" }));
    expect(res.status).toBe(401);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(await res.text()).toContain("not a qdeploy token");
  });

  test("POST /logout clears the cookie and goes to /login", async () => {
    const res = await createApp(fakeServe().deps).request("/logout", form({}));
    expect([res.status, res.headers.get("location")]).toEqual([303, "/login"]);
    expect(res.headers.get("set-cookie")).toContain(`${TOKEN_COOKIE}=; Max-Age=0; Path=/`);
  });

  test("no cookie, or a bad one: every page redirects to /login (never a JSON 401); the API still answers JSON", async () => {
    const f = twoReleases();
    const app = createApp(f.deps);
    for (const page of ["/", "/env/prod", "/env/prod/logs", "/runs/nope"]) {
      for (const headers of [{}, cookie("qdp_bad")]) {
        const res = await app.request(page, { headers });
        expect([page, res.status, res.headers.get("location")]).toEqual([page, 303, "/login"]);
      }
    }
    const api = await app.request("/api/v1/environments");
    expect([api.status, api.headers.get("content-type")]).toEqual([401, "application/json"]);
    expect((await app.request("/api/v2/nothing")).status).toBe(404);
  });
});

describe("dashboard: pages", () => {
  test("/ lists each environment with its hosts, health and live release", async () => {
    const f = twoReleases();
    const res = await createApp(f.deps).request("/", { headers: cookie(await f.token("read", { name: "bob" })) });
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toContain('<a href="/env/prod">prod</a>');
    expect(html).toContain(`<code>root@h1:22</code>`);
    expect(html).toContain(`<code>${NEW}</code>`);
    expect(html).toContain('<span class="ok">ok</span>');
    expect(html).toContain("bob (read)");
  });

  test("/env/:env: hosts, releases tagged live/previous, the audit log; a read token gets no Rollback or Restart", async () => {
    const f = twoReleases();
    const html = await (await createApp(f.deps).request("/env/prod", { headers: cookie(await f.token("read")) })).text();
    expect(html).toContain(`<code class="live-release">${NEW}</code>`);
    expect(html).toContain('<span class="tag live">live</span>');
    expect(html).toContain('<span class="tag previous">previous</span>');
    expect(html).toContain(`activated ${NEW} by alice@laptop`);
    expect(html).toContain('<td data-label="host">');
    // The host's last hour, sampled there, read with the status.
    expect(html).toContain('aria-label="web memory over the last hour, now 12.6 MB"');
    expect(html).toContain('aria-label="web CPU over the last hour (of one CPU), now 5.0 %"');
    expect(html).not.toContain('data-label=""'); // a nameless column (the buttons) says no ": " on a phone
    expect(html).not.toContain("Rollback");
    expect(html).not.toContain('id="restart"');
  });

  test("a deploy token gets a Rollback button (with a confirm) for the non-live release only, and Restart", async () => {
    const f = twoReleases();
    const html = await (await createApp(f.deps).request("/env/prod", { headers: cookie(await f.token("deploy")) })).text();
    expect(html.match(/class="danger rollback"/g)).toHaveLength(1);
    expect(html).toContain(`class="danger rollback" data-release="${OLD}"`);
    expect(html).not.toContain(`class="danger rollback" data-release="${NEW}"`);
    expect(html).toContain(`onsubmit="return confirm(&quot;Roll prod back to release ${OLD}?&quot;)"`);
    expect(html).toContain('id="restart"');
  });

  test("a refused release is tagged and gets no Rollback; nor does the live one", () => {
    const r = { id: OLD, created: "", git: null, by: "t", sha256: "", hosts: ["h1"], live: [], previous: [], activated: false };
    expect([releaseTags(r), canRollBackTo(r)]).toEqual([["refused"], false]);
    expect([releaseTags({ ...r, activated: true, previous: ["h1"] }), canRollBackTo({ ...r, activated: true })]).toEqual([["previous"], true]);
    expect([releaseTags({ ...r, activated: true, live: ["h1"] }), canRollBackTo({ ...r, activated: true, live: ["h1"] })]).toEqual([["live"], false]);
  });

  test("a host that cannot be reached is a message on the page, not a crash", async () => {
    const f = twoReleases();
    f.deps.opContext = (cfg, ev, who) => ({ ...fakeServe().deps.opContext(cfg, ev, who), connect: async () => { throw new RemoteError("root@h1:22", "ssh: connect: Connection refused"); } });
    const app = createApp(f.deps);
    const token = await f.token("deploy");
    for (const page of ["/", "/env/prod", "/env/prod/logs"]) {
      const res = await app.request(page, { headers: cookie(token) });
      expect([page, res.status]).toEqual([page, 200]);
      expect(await res.text()).toContain("root@h1:22: ssh: connect: Connection refused");
    }
  });

  test("an unknown environment or run is an HTML 404 page with the message", async () => {
    const f = twoReleases();
    const app = createApp(f.deps);
    const token = await f.token("read");
    const env = await app.request("/env/staging", { headers: cookie(token) });
    expect([env.status, env.headers.get("content-type")]).toEqual([404, "text/html; charset=UTF-8"]);
    expect(await env.text()).toContain('no environment &quot;staging&quot; (served: prod)');
    expect((await app.request("/runs/nope", { headers: cookie(token) })).status).toBe(404);
  });

  test("/env/:env/logs shows the recent journal and the follow stream's address", async () => {
    const f = twoReleases();
    const html = await (await createApp(f.deps).request("/env/prod/logs", { headers: cookie(await f.token("read")) })).text();
    expect(html).toContain("root@h1:22 | 2026-12-02T10:00:01+00:00 h1 hello[1]: listening on :8101");
    expect(html).toContain('"/api/v1/environments/prod/logs?follow=1"');
    expect(f.log.some((l) => l.includes("journalctl") && l.includes("-n 200") && !l.includes("-f"))).toBe(true);
  });
});

describe("dashboard: rollback and runs", () => {
  test("POST rollback (deploy role) starts the rollback and redirects to its run; the run page shows it succeed", async () => {
    const f = twoReleases();
    const app = createApp(f.deps);
    const token = await f.token("deploy", { name: "alice" });
    const res = await app.request("/env/prod/rollback", form({ release: OLD }, cookie(token)));
    expect(res.status).toBe(303);
    const location = res.headers.get("location")!;
    expect(location).toMatch(/^\/runs\/[0-9a-z]+-[0-9a-f]{6}$/);
    const run = f.deps.runs.get(location.slice("/runs/".length))!;
    expect([run.record.action, run.record.target, run.record.by]).toEqual(["rollback", OLD, "alice"]);
    await run.done;
    const html = await (await app.request(location, { headers: cookie(token) })).text();
    expect(html).toContain('<span id="run-state" class="tag live">succeeded</span>');
    expect(html).toContain(`<code id="run-release">${OLD}</code>`);
    expect(html).toContain("holding the deploy lock on root@h1:22");
    expect(html).not.toContain("EventSource"); // finished: nothing live to follow
    expect(f.hosts.prod![0]!.live).toBe(OLD);
  });

  test("a running run's page has its events so far, the live stream, and a no-JS refresh", async () => {
    const f = twoReleases();
    const app = createApp(f.deps);
    const token = await f.token("read");
    let finish = () => {};
    const run = f.deps.runs.start({ env: "prod", action: "push", by: "ci" }, async ({ events }) => {
      events({ type: "info", line: "building <hello>" });
      events({ type: "debug", line: "ssh chatter" });
      await new Promise<void>((r) => (finish = r));
    });
    const html = await (await app.request(`/runs/${run.record.id}`, { headers: cookie(token) })).text();
    expect(html).toContain('<span id="run-state" class="tag ">running</span>');
    expect(html).toContain('<li class="info">building &lt;hello&gt;</li>');
    expect(html).not.toContain("ssh chatter");
    expect(html).toContain(`("/api/v1/runs/${run.record.id}/events")`);
    expect(html).toContain('<noscript><meta http-equiv="refresh" content="2"/></noscript>');
    finish();
    await run.done;
  });

  test("POST promote (deploy role): staging's release to prod, a run of prod; its page shows it succeed", async () => {
    const f = fakeServe({
      environments: { staging: [{ label: "root@s1:22", live: NEW, releases: [NEW] }], prod: [{ label: "root@p1:22", live: OLD, releases: [OLD] }] },
      cfg: { ...helloConfig, root: mkdtempSync(path.join(tmpdir(), "qdeploy-promote-")) },
    });
    const app = createApp(f.deps);
    const token = await f.token("deploy", { name: "alice" });
    const page = await (await app.request("/env/staging", { headers: cookie(token) })).text();
    expect(page).toContain(`<button type="submit" class="promote" data-release="${NEW}" data-to="prod">`);
    const res = await app.request("/env/prod/promote", form({ from: "staging", release: NEW }, cookie(token)));
    expect(res.status).toBe(303);
    const run = f.deps.runs.get(res.headers.get("location")!.slice("/runs/".length))!;
    expect([run.record.env, run.record.action, run.record.target, run.record.by]).toEqual(["prod", "promote", `staging ${NEW}`, "alice"]);
    await run.done;
    expect(run.record.state).toBe("succeeded");
    expect(f.hosts.prod![0]!.live).not.toBe(OLD);
  });

  test("a read token cannot roll back (403 page); a held lock is a 409 page naming the holder", async () => {
    const f = twoReleases();
    const app = createApp(f.deps);
    const read = await f.token("read", { name: "bob" });
    const denied = await app.request("/env/prod/rollback", form({ release: OLD }, cookie(read)));
    expect(denied.status).toBe(403);
    expect(await denied.text()).toContain("token &quot;bob&quot; has role read; this needs deploy");
    f.hosts.prod![0]!.lockedBy = "carol@laptop (push, pid 7)";
    const held = await app.request("/env/prod/rollback", form({ release: OLD }, cookie(await f.token("deploy"))));
    expect(held.status).toBe(409);
    expect(await held.text()).toContain("carol@laptop");
  });

  test("a cross-origin form POST is refused (CSRF), even with the cookie; nothing runs", async () => {
    const f = twoReleases();
    const app = createApp(f.deps);
    const token = await f.token("deploy");
    for (const [path, fields] of [["/env/prod/rollback", { release: OLD }], ["/env/prod/restart", {}], ["/login", { token }], ["/logout", {}]] as const) {
      const res = await app.request(path, form(fields, { ...cookie(token), origin: "https://evil.example" }));
      expect([path, res.status]).toEqual([path, 403]);
    }
    const noOrigin = await app.request("/env/prod/rollback", { method: "POST", body: new URLSearchParams({ release: OLD }), headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "cross-site", ...cookie(token) } });
    expect(noOrigin.status).toBe(403);
    expect(f.deps.runs.list()).toEqual([]);
    expect(f.hosts.prod![0]!.live).toBe(NEW);
  });

  test("POST restart redirects to its run", async () => {
    const f = twoReleases();
    const app = createApp(f.deps);
    const res = await app.request("/env/prod/restart", form({}, cookie(await f.token("deploy"))));
    expect(res.status).toBe(303);
    expect(f.deps.runs.get(res.headers.get("location")!.slice(6))!.record.action).toBe("restart");
  });

  test("no page shows a secret's value", async () => {
    const SECRET = "whsec-value-that-must-not-show";
    const f = twoReleases({ WEBHOOK_SECRET: SECRET });
    const app = createApp(f.deps);
    const token = await f.token("deploy");
    const res = await app.request("/env/prod/rollback", form({ release: OLD }, cookie(token)));
    await f.deps.runs.get(res.headers.get("location")!.slice(6))!.done;
    for (const page of ["/", "/env/prod", "/env/prod/logs", res.headers.get("location")!]) {
      expect(await (await app.request(page, { headers: cookie(token) })).text()).not.toContain(SECRET);
    }
  });
});

describe("dashboard: review apps", () => {
  const record = { name: "pr-7", of: "hello", app: "hello-pr-7", url: "https://pr-7.preview.example.com/", pr: 7, branch: "feature", commit: "c0ffee".padEnd(40, "0"), created: new Date(Date.now() - 3 * 3_600_000).toISOString(), updated: new Date().toISOString() };
  function withPreviews() {
    const previews = { environment: "prod", domainSuffix: "preview.example.com", max: 5, ttlSec: 5 * 86_400, forks: false, seed: false, scrub: null };
    const f = fakeServe({ cfg: { ...helloConfig, previews }, environments: { prod: [{ label: "root@h1:22", live: NEW, releases: [OLD, NEW], previews: [record] }] } });
    f.deps.previews = previews;
    return f;
  }

  test("/previews lists each with its URL, commit, branch, age and expiry; / links to it; a deploy token gets Destroy (with a confirm), a read token none", async () => {
    const f = withPreviews();
    const app = createApp(f.deps);
    const reader = await f.token("read");
    const home = await (await app.request("/", { headers: cookie(reader) })).text();
    expect(home).toContain('<a href="/previews">Review apps</a>');
    const page = await (await app.request("/previews", { headers: cookie(reader) })).text();
    expect(page).toContain('<a href="https://pr-7.preview.example.com/">https://pr-7.preview.example.com/</a>');
    expect(page).toContain(`<code title="${record.commit}">c0ffee000000</code>`);
    expect(page).toContain('<td data-label="branch">feature</td><td data-label="age">3 h</td><td data-label="expires in">5 d</td>');
    expect(page).toContain("1 of 5");
    expect(page).not.toContain("Destroy");
    const deployer = await f.token("deploy");
    const asDeployer = await (await app.request("/previews", { headers: cookie(deployer) })).text();
    expect(asDeployer).toContain('<form method="post" action="/previews/pr-7/destroy" onsubmit="return confirm(&quot;Destroy pr-7, with its databases (no backup is kept)?&quot;)">');
  });

  test("POST destroy (deploy role) starts the preview's destroy and redirects to its run, which links to the environment", async () => {
    const f = withPreviews();
    const app = createApp(f.deps);
    const token = await f.token("deploy");
    const res = await app.request("/previews/pr-7/destroy", form({}, cookie(token)));
    expect(res.status).toBe(303);
    const run = f.deps.runs.get(res.headers.get("location")!.split("/").pop()!)!;
    await run.done;
    expect([run.record.env, run.record.action, run.record.state]).toEqual(["prod/pr-7", "preview-destroy", "succeeded"]);
    const page = await (await app.request(`/runs/${run.record.id}`, { headers: cookie(token) })).text();
    expect(page).toContain('<a href="/env/prod">prod/pr-7</a>');
    expect((await app.request("/previews", { headers: cookie(await f.token("deploy")) })).status).toBe(200);
  });
});
