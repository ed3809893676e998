/**
 * The deploy webhook against the sandbox (issue 11, item 4): `qdeploy serve`'s server,
 * in-process with its real deps (SSH, git, the env secret store), gets a GitHub push event
 * signed with the webhook secret; it fetches the commit from the bare origin into a clean
 * worktree and pushes it while the site is under load: 0 failed requests, the new commit
 * live. The same delivery again, or a bad signature, deploys nothing; the app's env file
 * never holds the webhook secret.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import type { ServeDeps } from "../../src/serve/deps.ts";
import type { RunningServer } from "../../src/serve/serve.ts";
import { sign } from "../../src/serve/signature.ts";
import { cleanApp, get, keepRequesting, makeProject, gitIn as git, ok, onVm, qdeploy, sandbox, serveInProcess, writeConfig } from "./harness.ts";

const MIN = 60_000;
const APP = "hookapp";
const DOMAIN = `${APP}.localhost`;
const SECRET = `whk-${crypto.randomUUID()}`;
const API_KEY = `api-${crypto.randomUUID()}`;
let vm: SandboxInfo;
let dir: string;
let deps: ServeDeps;
let server: RunningServer;
let stop: (() => Promise<void>) | undefined;
let commit = "";

/** POST /hooks/github with a push event for main at `after`, signed with `secret`. */
function hook(after: string, delivery: string, secret = SECRET): Promise<Response> {
  // pushed_at: GitHub's time of the push (Unix seconds); an hour-old push is refused as a replay.
  const body = JSON.stringify({ ref: "refs/heads/main", before: "0".repeat(40), after, repository: { full_name: "acme/hookapp", pushed_at: Math.floor(Date.now() / 1000) } });
  return fetch(`${server.url}/hooks/github`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": delivery, "x-hub-signature-256": sign(secret, body) },
    body,
  });
}

async function liveRelease(): Promise<{ id: string; git: string | null; count: number }> {
  const r = ok(await qdeploy(dir, ["releases", "sandbox", "--json"], { env: { WEBHOOK_SECRET: SECRET, API_KEY } }));
  const { releases } = JSON.parse(r.stdout) as { releases: { id: string; git: string | null; live: string[] }[] };
  const live = releases.find((x) => x.live.length)!;
  return { id: live.id, git: live.git, count: releases.length };
}

beforeAll(async () => {
  vm = await sandbox();
  await cleanApp(vm, APP);
  dir = makeProject(APP);
  // The version on the page is the commit; the secrets come from the environment (store "env").
  writeConfig(dir, vm, {
    app: APP,
    stamp: "{git.sha}",
    extra: `secrets = { store = "env", names = ["WEBHOOK_SECRET", "API_KEY"] }\n\n[serve.branches]\nmain = "sandbox"\n`,
  });
  writeFileSync(path.join(dir, ".gitignore"), ".qdeploy/\n");
  const origin = path.join(mkdtempSync(path.join(tmpdir(), "qdeploy-e2e-origin-")), "hookapp.git");
  await git(dir)`git init -q -b main && git add -A && git commit -qm first && git init -q --bare -b main ${origin} && git remote add origin ${origin} && git push -q origin main`;
  ok(await qdeploy(dir, ["push", "sandbox"], { env: { WEBHOOK_SECRET: SECRET, API_KEY } }));
  // A new commit on origin, which the server's own tree does not have.
  writeFileSync(path.join(dir, "CHANGES"), "second\n");
  await git(dir)`git add CHANGES && git commit -qm second && git push -q origin main && git reset -q --hard HEAD~1`;
  commit = (await git(dir)`git rev-parse origin/main`).stdout.trim();
  // The server's process reads the env store: the secrets are its environment here.
  process.env.WEBHOOK_SECRET = SECRET;
  process.env.API_KEY = API_KEY;
  ({ deps, server, stop } = await serveInProcess(dir));
}, 10 * MIN);

afterAll(async () => {
  await stop?.();
  delete process.env.WEBHOOK_SECRET;
  delete process.env.API_KEY;
});

describe("POST /hooks/github on the sandbox", () => {
  test("a signed push deploys the new commit under load with 0 failed requests", async () => {
    const before = await liveRelease();
    expect((await get(vm, "/", DOMAIN)).body).not.toContain(commit);
    const load = keepRequesting(vm, "/", DOMAIN);
    const t = performance.now();
    const res = await hook(commit, "delivery-1");
    const answer = (await res.json()) as { ok: boolean; run: { id: string } };
    expect(res.status).toBe(202);
    const run = deps.runs.get(answer.run.id)!;
    await run.done;
    const seconds = (performance.now() - t) / 1000;
    const results = await load.stop();
    console.log(`webhook push: ${seconds.toFixed(1)} s from the request to live; ${results.ok} requests ok, ${results.failed.length} failed`);
    expect(run.record.state === "succeeded" ? null : run.record.error).toBeNull();
    expect(results.failed).toEqual([]);
    expect(results.ok).toBeGreaterThan(10);
    expect((await get(vm, "/", DOMAIN)).body).toContain(`hello from ${commit}`);
    const after = await liveRelease();
    expect([after.git, after.count, after.id > before.id]).toEqual([commit, before.count + 1, true]);
    expect(run.events.some((e) => e.type === "info" && e.line.startsWith(`fetched ${commit} (${commit.slice(0, 12)})`))).toBe(true);
    // The worktree is gone; the server's own tree is untouched (still one commit behind).
    expect((await git(dir)`git worktree list`).stdout.trim().split("\n")).toHaveLength(1);
    expect((await git(dir)`git rev-parse HEAD`).stdout.trim()).not.toBe(commit);
  }, 5 * MIN);

  test("the same delivery again is ignored (409); a bad signature is 401; neither deploys", async () => {
    const before = await liveRelease();
    const replay = await hook(commit, "delivery-1");
    expect([replay.status, ((await replay.json()) as { error: { kind: string } }).error.kind]).toEqual([409, "replay"]);
    const forged = await hook(commit, "delivery-2", "not-the-secret");
    expect(forged.status).toBe(401);
    expect(deps.runs.list()).toHaveLength(1);
    expect(await liveRelease()).toEqual(before);
  }, 2 * MIN);

  test("the app's env file has its secrets but never the webhook secret", async () => {
    const r = await onVm(vm, ["bash", "-c", `cat /srv/qdeploy/${APP}/current/env`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(API_KEY);
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stdout).not.toContain("WEBHOOK_SECRET");
  });
});
