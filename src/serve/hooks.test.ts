import { describe, expect, test } from "bun:test";
import { helloConfig } from "../../test/fixtures/config.ts";
import { fakeServe } from "../../test/fixtures/serve-deps.ts";
import type { FakeHost } from "../../test/fixtures/recording-remote.ts";
import { OperationError } from "../errors.ts";
import { createApp } from "./app.ts";
import type { ServeDeps } from "./deps.ts";
import { sign } from "./signature.ts";

const SECRET = "hook-secret-Value-1";
const SHA = "c0ffee".padEnd(40, "1");
const OLD = "20261201000000";

function setup(o: { branches?: Record<string, string>; secrets?: Record<string, string>; secretsByEnv?: Record<string, Record<string, string>>; host?: Partial<FakeHost>; staging?: boolean; now?: () => Date; secret?: ServeDeps["secret"] } = {}) {
  const cfg = { ...helloConfig, serve: { ...helloConfig.serve, branches: o.branches ?? { main: "prod" } } };
  const environments: Record<string, FakeHost[]> = { prod: [{ label: "root@h1:22", live: OLD, releases: [OLD], ...o.host }] };
  if (o.staging) environments.staging = [{ label: "root@s1:22", live: OLD, releases: [OLD] }];
  const f = fakeServe({ cfg, secrets: o.secrets ?? { WEBHOOK_SECRET: SECRET }, ...(o.secretsByEnv && { secretsByEnv: o.secretsByEnv }), ...(o.now && { now: o.now }), environments });
  if (o.secret) f.deps.secret = o.secret;
  return { f, app: createApp(f.deps) };
}

/** GitHub's push payload: the branch, the commit, and when it was pushed (Unix seconds, as GitHub sends it). */
const pushPayload = (ref = "refs/heads/main", after = SHA, extra: object = {}, pushedAt = Math.floor(Date.now() / 1000)) =>
  JSON.stringify({ ref, after, repository: { full_name: "acme/hello", pushed_at: pushedAt }, ...extra });

function github(body: string, o: { event?: string; delivery?: string | null; signature?: string | null } = {}) {
  const headers: Record<string, string> = { "content-type": "application/json", "x-github-event": o.event ?? "push" };
  const delivery = o.delivery === undefined ? crypto.randomUUID() : o.delivery;
  if (delivery !== null) headers["x-github-delivery"] = delivery;
  const signature = o.signature === undefined ? sign(SECRET, body) : o.signature;
  if (signature !== null) headers["x-hub-signature-256"] = signature;
  return { method: "POST", headers, body };
}

async function answer(res: Response) {
  const body = (await res.json()) as { ok: boolean; error?: { kind: string; message: string }; run?: { id: string; target: string; by: string } };
  return { status: res.status, ...body };
}

describe("POST /hooks/github", () => {
  test("a signed push to a mapped branch deploys that commit (202, a run by github); the same delivery again is ignored (409)", async () => {
    const { f, app } = setup();
    const body = pushPayload();
    const first = await answer(await app.request("/hooks/github", github(body, { delivery: "d-1" })));
    expect([first.status, first.run?.target, first.run?.by]).toEqual([202, SHA, "github"]);
    const run = f.deps.runs.get(first.run!.id)!;
    await run.done;
    expect(run.record.state).toBe("succeeded");
    expect(f.hosts.prod![0]!.live).not.toBe(OLD);
    const replay = await answer(await app.request("/hooks/github", github(body, { delivery: "d-1" })));
    expect([replay.status, replay.error?.kind, replay.error?.message]).toEqual([409, "replay", "delivery d-1 was handled already; ignored"]);
    expect(f.deps.runs.list()).toHaveLength(1);
    // A restarted server (a new app over the same state) still knows the delivery.
    const again = await answer(await createApp(f.deps).request("/hooks/github", github(body, { delivery: "d-1" })));
    expect(again.status).toBe(409);
    // The signed body under a new delivery id is a replay too (the id header is not signed).
    const renamed = await answer(await app.request("/hooks/github", github(body, { delivery: "d-1-again" })));
    expect([renamed.status, renamed.error?.kind]).toEqual([409, "replay"]);
  });

  test("each environment's own secret: staging's cannot deploy production", async () => {
    const { f, app } = setup({ staging: true, branches: { main: "prod", next: "staging" }, secretsByEnv: { prod: { WEBHOOK_SECRET: SECRET }, staging: { WEBHOOK_SECRET: "staging-secret" } } });
    const toProd = pushPayload("refs/heads/main");
    const forged = await answer(await app.request("/hooks/github", github(toProd, { signature: sign("staging-secret", toProd) })));
    expect([forged.status, forged.error?.kind]).toEqual([401, "unauthorized"]);
    const toStaging = pushPayload("refs/heads/next");
    const ok = await answer(await app.request("/hooks/github", github(toStaging, { signature: sign("staging-secret", toStaging) })));
    expect(ok.status).toBe(202);
    await f.deps.runs.get(ok.run!.id)!.done;
    expect(f.deps.runs.list().map((r) => r.env)).toEqual(["staging"]);
  });

  test("a missing or wrong signature is 401 and starts nothing; so is a store without the secret", async () => {
    const { f, app } = setup();
    const body = pushPayload();
    const missing = await answer(await app.request("/hooks/github", github(body, { signature: null })));
    expect([missing.status, missing.error?.kind]).toEqual([401, "unauthorized"]);
    expect(missing.error?.message).toStartWith("no X-Hub-Signature-256");
    const malformed = await answer(await app.request("/hooks/github", github(body, { signature: "sha256=xyz" })));
    expect([malformed.status, malformed.error?.message]).toEqual([401, "X-Hub-Signature-256 is not sha256=HEX"]);
    const wrong = await answer(await app.request("/hooks/github", github(body, { signature: sign("guess", body) })));
    expect([wrong.status, wrong.error?.message]).toEqual([401, "X-Hub-Signature-256 does not match the body signed with WEBHOOK_SECRET"]);
    const tampered = await answer(await app.request("/hooks/github", github(pushPayload("refs/heads/main", "d".repeat(40)), { signature: sign(SECRET, body) })));
    expect(tampered.status).toBe(401);
    expect(f.deps.runs.list()).toHaveLength(0);
    const none = setup({ secrets: {} });
    const unset = await answer(await none.app.request("/hooks/github", github(body)));
    expect([unset.status, unset.error?.message]).toEqual([401, "X-Hub-Signature-256 does not match the body signed with WEBHOOK_SECRET"]);
    expect(none.f.serverLog).toEqual(["webhooks: the secret store of prod has no WEBHOOK_SECRET: qdeploy secrets set prod WEBHOOK_SECRET"]);
  });

  test("requests that cannot be valid are cheap: each environment's store is read once a minute, whatever comes", async () => {
    let clock = Date.parse("2026-12-02T10:00:00Z");
    let reads = 0;
    const { app } = setup({ now: () => new Date(clock), secret: async () => (reads++, SECRET) });
    const body = pushPayload();
    const zero = `sha256=${"0".repeat(64)}`;
    const answers = await Promise.all(Array.from({ length: 20 }, () => app.request("/hooks/github", github(body, { signature: zero }))));
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(401));
    for (let i = 0; i < 5; i++) expect((await app.request("/hooks/github", github(body, { signature: zero }))).status).toBe(401);
    expect(reads).toBe(1);
    // Read again after a minute: a changed secret is used within one.
    clock += 61_000;
    expect((await app.request("/hooks/github", github(body, { signature: zero }))).status).toBe(401);
    expect(reads).toBe(2);
  });

  test("a store that cannot be read: a generic 401, read again after 10 s at most; the reason (never in the answer) goes to the server's log", async () => {
    let clock = Date.parse("2026-12-02T10:00:00Z");
    let reads = 0;
    const failure = "secrets.command (vault) exited with 2: fix the command or its login\n  stderr:\n    Error: Get https://vault.internal.example:8200/v1/kv/prod: permission denied";
    const { f, app } = setup({ now: () => new Date(clock), secret: async () => { reads++; throw new OperationError(failure); } });
    const body = pushPayload();
    for (let i = 0; i < 3; i++) {
      const a = await answer(await app.request("/hooks/github", github(body)));
      expect([a.status, a.error?.kind, a.error?.message]).toEqual([401, "unauthorized", "X-Hub-Signature-256 does not match the body signed with WEBHOOK_SECRET"]);
      expect(JSON.stringify(a)).not.toContain("vault");
    }
    expect(reads).toBe(1);
    expect(f.serverLog).toEqual([`webhooks: the secret store of prod cannot be read: ${failure}`]);
    clock += 11_000;
    await app.request("/hooks/github", github(body));
    expect(reads).toBe(2);
    expect(f.deps.runs.list()).toHaveLength(0);
  });

  test("branch names that are Object's own keys deploy nowhere (constructor, __proto__, toString)", async () => {
    const { f, app } = setup();
    for (const branch of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      const a = await answer(await app.request("/hooks/github", github(pushPayload(`refs/heads/${branch}`))));
      expect([a.status, a.error?.message]).toEqual([422, `refs/heads/${branch} deploys nowhere; [serve.branches] maps main -> prod`]);
    }
    expect(f.deps.runs.list()).toHaveLength(0);
  });

  test("a push more than an hour old, or more than 5 minutes ahead, is refused as a replay; one without its time is a 400", async () => {
    const now = Date.parse("2026-12-02T10:00:00Z");
    const { f, app } = setup({ now: () => new Date(now) });
    const sec = (ms: number) => Math.floor(ms / 1000);
    const old = await answer(await app.request("/hooks/github", github(pushPayload("refs/heads/main", SHA, {}, sec(now - 3601_000)), { delivery: "d-old" })));
    expect([old.status, old.error?.kind, old.error?.message]).toEqual([409, "replay", "delivery d-old was sent at 2026-12-02T08:59:59Z, more than 1 hour ago: refused as a possible replay"]);
    const ahead = await answer(await app.request("/hooks/github", github(pushPayload("refs/heads/main", SHA, {}, sec(now + 301_000)), { delivery: "d-ahead" })));
    expect([ahead.status, ahead.error?.kind, ahead.error?.message]).toEqual([409, "replay", "delivery d-ahead was sent at 2026-12-02T10:05:01Z, more than 5 minutes ahead of this server's clock: refused as a possible replay"]);
    const noTime = JSON.stringify({ ref: "refs/heads/main", after: SHA, repository: { full_name: "acme/hello" } });
    const none = await answer(await app.request("/hooks/github", github(noTime)));
    expect([none.status, none.error?.message]).toEqual([400, "the payload has no repository.pushed_at (GitHub sends the push's time): it cannot be told from a replay"]);
    expect(f.deps.runs.list()).toHaveLength(0);
    // Within the hour (GitHub's clock a little ahead of ours is fine) it deploys.
    const fresh = await answer(await app.request("/hooks/github", github(pushPayload("refs/heads/main", SHA, {}, sec(now + 30_000)))));
    expect(fresh.status).toBe(202);
    await f.deps.runs.get(fresh.run!.id)!.done;
  });

  test("ping is answered; other events, no delivery id, an unmapped or deleted branch are 4xx with the reason", async () => {
    const { f, app } = setup();
    const ping = await app.request("/hooks/github", github(JSON.stringify({ zen: "hi" }), { event: "ping" }));
    expect([ping.status, await ping.json()]).toEqual([200, { ok: true, pong: true }]);
    const cases: [ReturnType<typeof github>, number, string][] = [
      [github(pushPayload(), { event: "issues" }), 400, 'X-GitHub-Event "issues" is not handled: send push events only'],
      [github(pushPayload(), { delivery: null }), 400, "no X-GitHub-Delivery: each delivery needs an id, so a replay can be ignored"],
      [github(pushPayload("refs/heads/feature")), 422, "refs/heads/feature deploys nowhere; [serve.branches] maps main -> prod"],
      [github(pushPayload("refs/tags/v1")), 422, "refs/tags/v1 deploys nowhere; [serve.branches] maps main -> prod"],
      [github(pushPayload("refs/heads/main", "0".repeat(40), { deleted: true })), 422, "branch main was deleted: nothing to deploy"],
      [github("not json"), 400, "the body is not a JSON object (content type application/json)"],
    ];
    for (const [req, status, message] of cases) {
      const a = await answer(await app.request("/hooks/github", req));
      expect([a.status, a.error?.message]).toEqual([status, message]);
    }
    expect(f.deps.runs.list()).toHaveLength(0);
  });

  test("without [serve.branches] the hook is 404 saying so", async () => {
    const { app } = setup({ branches: {} });
    const a = await answer(await app.request("/hooks/github", github(pushPayload())));
    expect([a.status, a.error?.message]).toEqual([404, 'this server deploys no branch: add [serve.branches] to deploy.toml (main = "production")']);
  });

  test("a push while the environment deploys waits for it; only the newest waiting one is deployed", async () => {
    const { f, app } = setup();
    let finish = () => {};
    const busy = f.deps.runs.start({ env: "prod", action: "rollback", by: "alice" }, () => new Promise<void>((r) => (finish = r)));
    const second = "b".repeat(40);
    const third = "c".repeat(40);
    const a = await answer(await app.request("/hooks/github", github(pushPayload("refs/heads/main", second))));
    const b = await answer(await app.request("/hooks/github", github(pushPayload("refs/heads/main", third))));
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(await (await app.request("/hooks/github", github(pushPayload("refs/heads/main", "d".repeat(40))))).json()).toMatchObject({ queued: true, after: busy.record.id });
    finish();
    await busy.done;
    await Bun.sleep(10);
    const pushes = f.deps.runs.list().filter((r) => r.action === "push");
    expect(pushes.map((r) => r.target)).toEqual(["d".repeat(40)]);
    await f.deps.runs.get(pushes[0]!.id)!.done;
  });

  test("a deploy lock someone else holds: answered at once (202), the run fails saying who holds it", async () => {
    const { f, app } = setup({ host: { lockedBy: "bob@laptop, pid 7, since 2026-12-02T10:00:00Z" } });
    const a = await answer(await app.request("/hooks/github", github(pushPayload())));
    expect(a.status).toBe(202);
    const run = f.deps.runs.get(a.run!.id)!;
    await run.done;
    expect([run.record.state, run.record.error?.kind, run.record.error?.holder]).toEqual(["failed", "lock-held", "bob@laptop, pid 7, since 2026-12-02T10:00:00Z"]);
  });
});

describe("POST /hooks/deploy", () => {
  const deploy = (body: string, o: { signature?: string | null } = {}) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    const signature = o.signature === undefined ? sign(SECRET, body) : o.signature;
    if (signature !== null) headers["x-qdeploy-signature-256"] = signature;
    return { method: "POST", headers, body };
  };
  const req = (o: object) => JSON.stringify({ environment: "prod", ref: "v1.2.0", delivery: crypto.randomUUID(), ...o });

  test("a signed request deploys the ref to the environment it names; replay, bad signature and bad bodies are refused", async () => {
    const { f, app } = setup({ branches: {} });
    const body = req({ delivery: "ci-41" });
    const ok = await answer(await app.request("/hooks/deploy", deploy(body)));
    expect([ok.status, ok.run?.target, ok.run?.by]).toEqual([202, "v1.2.0", "deploy-hook"]);
    await f.deps.runs.get(ok.run!.id)!.done;
    const cases: [ReturnType<typeof deploy>, number, string][] = [
      [deploy(body), 409, "delivery ci-41 was handled already; ignored"],
      [deploy(req({ ref: "v1.3.0", delivery: "ci-41" })), 409, "delivery ci-41 was handled already; ignored"],
      [deploy(body, { signature: sign("guess", body) }), 401, "X-Qdeploy-Signature-256 does not match the body signed with WEBHOOK_SECRET"],
      [deploy(body, { signature: null }), 401, "no X-Qdeploy-Signature-256 (sha256=HMAC-SHA256 of the body with the webhook secret)"],
      [deploy(JSON.stringify({ ref: "main" })), 400, 'body: "environment" (a string) is required'],
      [deploy(req({ ref: undefined })), 400, 'body: "ref" (a branch, tag or commit) is required'],
      // An unknown environment answers as a bad signature does: the answer names no environment.
      [deploy(req({ environment: "staging" })), 401, "X-Qdeploy-Signature-256 does not match the body signed with WEBHOOK_SECRET"],
      [deploy(req({ environment: "constructor" })), 401, "X-Qdeploy-Signature-256 does not match the body signed with WEBHOOK_SECRET"],
      [deploy(req({ time: "yesterday" })), 400, 'body: "time" (when the request was made, Unix seconds) must be a number'],
      [deploy(req({ delivery: "ci-far", time: 1e300 })), 409, "delivery ci-far was sent at 1e+300 (Unix seconds), more than 5 minutes ahead of this server's clock: refused as a possible replay"],
      [deploy(req({ delivery: undefined })), 400, 'body: "delivery" (an id unique to this request, e.g. the CI job\'s) is required'],
    ];
    for (const [r, status, message] of cases) {
      const a = await answer(await app.request("/hooks/deploy", r));
      expect([a.status, a.error?.message]).toEqual([status, message]);
    }
    expect(f.deps.runs.list()).toHaveLength(1);
  });

  test("a signed time (Unix seconds) bounds the delivery: an hour old is refused however many came since; within it, it deploys", async () => {
    const now = Date.parse("2026-12-02T10:00:00Z");
    const { f, app } = setup({ branches: {}, now: () => new Date(now) });
    const old = await answer(await app.request("/hooks/deploy", deploy(req({ delivery: "ci-7", time: now / 1000 - 7200 }))));
    expect([old.status, old.error?.kind, old.error?.message]).toEqual([409, "replay", "delivery ci-7 was sent at 2026-12-02T08:00:00Z, more than 1 hour ago: refused as a possible replay"]);
    const ok = await answer(await app.request("/hooks/deploy", deploy(req({ delivery: "ci-8", time: now / 1000 - 60 }))));
    expect(ok.status).toBe(202);
    await f.deps.runs.get(ok.run!.id)!.done;
  });
});

describe("POST /hooks/github: pull_request events, with [previews]", () => {
  const prPayload = (action: string, o: { head?: string; updated?: string } = {}) =>
    JSON.stringify({
      action,
      number: 7,
      pull_request: { updated_at: o.updated ?? new Date().toISOString(), head: { sha: SHA, ref: "feature", repo: { full_name: o.head ?? "acme/hello" } }, base: { repo: { full_name: "acme/hello" } } },
    });
  function withPreviews(forks = false) {
    const s = setup({ branches: {} });
    s.f.deps.previews = { environment: "prod", domainSuffix: "preview.example.com", max: 1, ttlSec: 3600, forks, seed: false, scrub: null };
    return s;
  }

  test("signed with the previews' environment's secret: another is 401; other actions are ignored (200) and start nothing", async () => {
    const { f, app } = withPreviews();
    const body = prPayload("opened");
    const forged = await answer(await app.request("/hooks/github", github(body, { event: "pull_request", signature: sign("nope", body) })));
    expect([forged.status, forged.error?.kind]).toEqual([401, "unauthorized"]);
    const labeled = await app.request("/hooks/github", github(prPayload("labeled"), { event: "pull_request" }));
    expect([labeled.status, await labeled.json()]).toEqual([200, { ok: true, preview: "pr-7", ignored: 'action "labeled"' }]);
    expect(f.deps.runs.list()).toEqual([]);
  });

  test("a fork's pull request is refused (422) unless previews.forks; an old or replayed delivery is 409", async () => {
    const { f, app } = withPreviews();
    const fork = await answer(await app.request("/hooks/github", github(prPayload("opened", { head: "mallory/hello" }), { event: "pull_request" })));
    expect([fork.status, fork.error?.message]).toEqual([422, "pull request #7 comes from a fork (mallory/hello): previews.forks is false, so its code is not built"]);
    const old = await answer(await app.request("/hooks/github", github(prPayload("opened", { updated: new Date(Date.now() - 2 * 3600_000).toISOString() }), { event: "pull_request" })));
    expect([old.status, old.error?.kind]).toEqual([409, "replay"]);
    expect(f.deps.runs.list()).toEqual([]);
  });

  test("without [previews], a pull_request event is not handled (400), as before", async () => {
    const { app } = setup();
    const r = await answer(await app.request("/hooks/github", github(prPayload("opened"), { event: "pull_request" })));
    expect([r.status, r.error?.message]).toEqual([400, 'X-GitHub-Event "pull_request" is not handled: send push events only']);
  });
});
