/**
 * Review apps on the sandbox (issue 26): `qdeploy serve`'s server, in-process with its real deps
 * (SSH, git, the build sandbox), gets GitHub pull_request events signed with the previews'
 * environment's webhook secret. examples/notes (Postgres and Redis) is "production" at
 * revs.localhost; pull request 7 becomes app revs-pr-7 at pr-7.preview.localhost with its own
 * database (seeded from production's backup, then scrubbed) and Redis, is updated by
 * synchronize, and closed leaves the host as it was. A
 * second preview over previews.max, and a fork's pull request, are refused in the answer. A
 * GitHub API of the test's own ([serve] github_api) hears the commit statuses.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import type { ServeDeps } from "../../src/serve/deps.ts";
import type { RunningServer } from "../../src/serve/serve.ts";
import { sign } from "../../src/serve/signature.ts";
import { cleanApp, get, initProject, keepRequesting, gitIn as git, ok, onVmOk, qdeploy, sandbox, serveInProcess } from "./harness.ts";

const MIN = 60_000;
const APP = "revs";
const PREVIEW = `${APP}-pr-7`;
const DOMAIN = `${APP}.localhost`;
const PREVIEW_DOMAIN = "pr-7.preview.localhost";
const SECRET = `whk-${crypto.randomUUID()}`;
let vm: SandboxInfo;
let dir: string;
let origin: string;
let deps: ServeDeps;
let server: RunningServer;
let stop: (() => Promise<void>) | undefined;
let before = "";
const heads: string[] = [];
/** The commit statuses the fake GitHub API was sent: [path, authorization, body]. */
const statuses: { path: string; auth: string | null; body: { state: string; context: string; target_url?: string; description: string } }[] = [];
const TOKEN = `ghp_${crypto.randomUUID().replaceAll("-", "")}`;
const github = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch: async (req) => (statuses.push({ path: new URL(req.url).pathname, auth: req.headers.get("authorization"), body: (await req.json()) as (typeof statuses)[number]["body"] }), new Response("{}", { status: 201 })),
});

/** POST /hooks/github with a pull_request event, signed with the webhook secret. */
async function pullRequest(action: string, n: number, sha: string, delivery: string, headRepo = "acme/revs"): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = JSON.stringify({
    action,
    number: n,
    pull_request: { updated_at: new Date().toISOString(), head: { sha, ref: "feature", repo: { full_name: headRepo } }, base: { ref: "main", repo: { full_name: "acme/revs" } } },
    repository: { full_name: "acme/revs" },
  });
  const res = await fetch(`${server.url}/hooks/github`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-github-event": "pull_request", "x-github-delivery": delivery, "x-hub-signature-256": sign(SECRET, body) },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Waits for the run an answer started; fails with its error. */
async function finished(answer: { body: Record<string, unknown> }): Promise<void> {
  const run = deps.runs.get((answer.body.run as { id: string }).id)!;
  await run.done;
  // A failed run shows its last lines too: a release phase's own output says why it failed.
  const tail = run.events.flatMap((e) => ("line" in e ? [`${"host" in e ? `${e.host} ` : ""}${e.line}`] : [])).slice(-25);
  expect(run.record.state === "succeeded" ? null : { error: run.record.error, tail }).toBeNull();
}

/** What an app leaves on the host, by name: files, units, site, ports, databases and roles, Redis instances. */
const hostTraces = () =>
  onVmOk(
    vm,
    [
      "ls -1 /srv/qdeploy /etc/caddy/qdeploy /var/lib/private /etc/redis /var/lib/redis /etc/qdeploy/firewall 2>&1",
      "ls -1 /etc/systemd/system /etc/systemd/system/*.wants",
      "cat /srv/qdeploy/.ports",
      "ls -1 /var/backups/qdeploy 2>&1 || true",
      "cd / && runuser -u postgres -- psql -X -At -c 'select datname from pg_database union all select rolname from pg_roles order by 1'",
      "systemctl list-units --all --plain --no-legend 'revs*' | awk '{print $1}'",
    ].join("; "),
  );

/** A commit on the feature branch, made pull request 7's head on origin (GitHub's refs/pull/N/head). */
async function featureCommit(text: string): Promise<string> {
  writeFileSync(path.join(dir, "FEATURE"), `${text}\n`);
  await git(dir)`git add FEATURE && git commit -qm ${text} && git push -q -f origin HEAD:refs/pull/7/head`;
  return (await git(dir)`git rev-parse HEAD`).stdout.trim();
}

beforeAll(async () => {
  vm = await sandbox();
  await cleanApp(vm, APP);
  for (const n of [7, 8]) await cleanApp(vm, `${APP}-pr-${n}`);
  dir = initProject("notes", APP, (toml) =>
    toml
      .replace('hosts = ["root@127.0.0.1:2222"]', `hosts = ["root@127.0.0.1:${vm.sshPort}"]`)
      .replace(
        'ssh = { identity = ".qdeploy/sandbox/id_ed25519", known_hosts = ".qdeploy/sandbox/known_hosts" }',
        `ssh = { identity = ${JSON.stringify(vm.identity)}, known_hosts = ${JSON.stringify(vm.knownHosts)} }`,
      )
      .replace(/^health = "\/"/m, 'health = "/health"')
      .replace('"notes.localhost"', `"${DOMAIN}"`)
      .replace('store = "age"', 'store = "env"\nnames = ["WEBHOOK_SECRET", "GITHUB_TOKEN"]')
      .concat('\n[previews]\nenvironment = "sandbox"\ndomain = "*.preview.localhost"\nmax = 1\nttl = "2d"\nseed = true\n')
      .concat(`scrub = '''psql "$DATABASE_URL" -X -q -c "UPDATE notes SET body = 'scrubbed'"'''\n`)
      .concat(`\n[serve]\ngithub_token = "GITHUB_TOKEN"\ngithub_api = "http://127.0.0.1:${github.port}"\n`),
  );
  writeFileSync(path.join(dir, ".gitignore"), ".qdeploy/\n");
  origin = path.join(mkdtempSync(path.join(tmpdir(), "qdeploy-e2e-origin-")), "revs.git");
  await git(dir)`git add -A && git commit -qm previews && git init -q --bare -b main ${origin} && git remote add origin ${origin} && git push -q origin HEAD:main && git checkout -q -b feature`;
  process.env.WEBHOOK_SECRET = SECRET;
  process.env.GITHUB_TOKEN = TOKEN;
  ok(await qdeploy(dir, ["push", "sandbox"]));
  // A note in production's database, then its backup: what each new preview starts from.
  await onVmOk(vm, `curl -sS -X POST -d body=private -H 'Host: ${DOMAIN}' http://127.0.0.1:$(cut -d' ' -f1 /srv/qdeploy/${APP}/live-slot)/notes`);
  ok(await qdeploy(dir, ["addons", "backup", "sandbox", "db"]));
  before = await hostTraces();
  ({ deps, server, stop } = await serveInProcess(dir));
}, 10 * MIN);

afterAll(async () => {
  await stop?.();
  delete process.env.WEBHOOK_SECRET;
  delete process.env.GITHUB_TOKEN;
  github.stop(true);
  if (vm) for (const app of [APP, PREVIEW, `${APP}-pr-8`]) await cleanApp(vm, app);
}, 5 * MIN);

describe("review apps from GitHub's pull_request webhook", () => {
  test("opened: pr-7 runs the pull request's commit at its own domain, with its own Postgres database and Redis, while production keeps serving", async () => {
    heads.push(await featureCommit("feature one"));
    const load = keepRequesting(vm, "/", DOMAIN);
    const t = performance.now();
    const answer = await pullRequest("opened", 7, heads[0]!, "pr-delivery-1");
    expect(answer.status).toBe(202);
    await finished(answer);
    const seconds = (performance.now() - t) / 1000;
    const results = await load.stop();
    console.log(`[previews] pr-7 created in ${seconds.toFixed(1)} s (request to live); production: ${results.ok} requests ok, ${results.failed.length} failed`);
    // The preview's new site reloads Caddy 2.6 (Debian's), and a new connection to production
    // in that moment can fail: a TLS handshake that finds no certificate (Caddy reloads them
    // from storage with every config), or HTTP/2 framing when the old server's GOAWAY meets the
    // request (in CI 1 of 1,297 and 2 of 1,268; by hand 3 of 4,614 over 36 reloads;
    // docs/previews.md). Only those, at most 5, within one reload's moment (3 s from the
    // first); anything else (a refused connection, a 502, a wrong page) fails.
    const reloadMoment = /^0 curl: \((35\) .*tlsv1 alert internal err|16\) Error in the HTTP2 framing layer)/;
    if (results.failed.length) console.log(`[previews] production during the reload: ${results.failed.map((f, i) => `${f} (at ${(results.failedAt[i]! / 1000).toFixed(1)} s)`).join("; ")}`);
    expect(results.failed.filter((f) => !reloadMoment.test(f))).toEqual([]);
    expect(results.failedAt.filter((at) => at - results.failedAt[0]! > 3000)).toEqual([]);
    expect(results.failed.length).toBeLessThanOrEqual(5);
    expect(results.ok).toBeGreaterThan(5);
    // Its own Redis: its first visit, while production has counted every request above. Its
    // database: production's note, from the backup, scrubbed.
    const page = await get(vm, "/", PREVIEW_DOMAIN);
    // Plain checks: bun 1.4.5's toMatchObject with expect.stringMatching replaces the value it matches.
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/^visits 1\n/);
    expect(page.body).toContain("1 anonymous: scrubbed");
    expect((await get(vm, "/", DOMAIN)).body).toContain("1 anonymous: private");
    const release = JSON.parse(await onVmOk(vm, `cat /srv/qdeploy/${PREVIEW}/current/release.json`)) as { git: string };
    expect(release.git).toBe(heads[0]!);
    const env = await onVmOk(vm, `cat /srv/qdeploy/${PREVIEW}/current/env`);
    expect(env).toContain(`QDEPLOY_PREVIEW="pr-7"`);
    expect(env).toContain(`QDEPLOY_PR_NUMBER="7"`);
    expect(env).toMatch(/DATABASE_URL="postgres:\/\/revs_pr_7_sandbox_db:/);
    expect(env).not.toContain(SECRET);
    expect(env).not.toContain(TOKEN);
    // GitHub heard: pending, then success with the preview's URL, on the pull request's head, with the token.
    expect(statuses.map((s) => [s.path, s.auth, s.body.state, s.body.context, s.body.target_url ?? null])).toEqual([
      [`/repos/acme/revs/statuses/${heads[0]}`, `Bearer ${TOKEN}`, "pending", "qdeploy/preview", null],
      [`/repos/acme/revs/statuses/${heads[0]}`, `Bearer ${TOKEN}`, "success", "qdeploy/preview", `https://${PREVIEW_DOMAIN}/`],
    ]);
    const list = ok(await qdeploy(dir, ["previews", "list", "--json"]));
    const [record] = JSON.parse(list.stdout) as { name: string; url: string; commit: string; pr: number }[];
    expect(record).toMatchObject({ name: "pr-7", url: `https://${PREVIEW_DOMAIN}/`, commit: heads[0], pr: 7 });
  }, 10 * MIN);

  test("synchronize: a new commit on the pull request updates pr-7", async () => {
    heads.push(await featureCommit("feature two"));
    const t = performance.now();
    const answer = await pullRequest("synchronize", 7, heads[1]!, "pr-delivery-2");
    expect(answer.status).toBe(202);
    await finished(answer);
    console.log(`[previews] pr-7 updated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const release = JSON.parse(await onVmOk(vm, `cat /srv/qdeploy/${PREVIEW}/current/release.json`)) as { git: string };
    expect(release.git).toBe(heads[1]!);
    // The same Redis (the visits went on, not back to 1) and database, not seeded again.
    const page = (await get(vm, "/", PREVIEW_DOMAIN)).body;
    expect(page).toMatch(/^visits 2\n/);
    expect(page).toContain("1 anonymous: scrubbed");
  }, 10 * MIN);

  test("one preview over previews.max (1), and a fork's pull request, are refused in the answer; nothing is made", async () => {
    const over = await pullRequest("opened", 8, heads[1]!, "pr-delivery-3");
    expect(over.status).toBe(422);
    expect(JSON.stringify(over.body)).toContain("preview pr-8 was not made: 1 previews are alive, previews.max is 1: pr-7");
    const fork = await pullRequest("opened", 7, heads[1]!, "pr-delivery-4", "mallory/revs");
    expect(fork.status).toBe(422);
    expect(JSON.stringify(fork.body)).toContain("pull request #7 comes from a fork (mallory/revs): previews.forks is false");
    expect(await onVmOk(vm, `ls /srv/qdeploy`)).not.toContain(`${APP}-pr-8`);
  }, 2 * MIN);

  test("closed: every trace of pr-7 goes (units, site, ports, files, database, Redis); production still serves", async () => {
    const t = performance.now();
    const answer = await pullRequest("closed", 7, heads[1]!, "pr-delivery-5");
    expect(answer.status).toBe(202);
    await finished(answer);
    console.log(`[previews] pr-7 destroyed in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    expect(await hostTraces()).toBe(before);
    expect((await get(vm, "/", DOMAIN)).status).toBe(200);
    expect((await get(vm, "/", PREVIEW_DOMAIN)).status).not.toBe(200);
    expect(JSON.parse(ok(await qdeploy(dir, ["previews", "list", "--json"])).stdout)).toEqual([]);
    // Destroying what is gone is no error, and changes nothing.
    const again = ok(await qdeploy(dir, ["previews", "destroy", "7"]));
    expect(again.stdout + again.stderr).toContain(`preview pr-7 (${PREVIEW}) destroyed`);
    expect(await hostTraces()).toBe(before);
  }, 5 * MIN);
});
