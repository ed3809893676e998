import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { ConfigError } from "../errors.ts";
import { helloConfig } from "../../test/fixtures/config.ts";
import { fakeServe } from "../../test/fixtures/serve-deps.ts";
import { createApp } from "./app.ts";
import { servedCommitConfig, startPush, withServedPlaces } from "./actions.ts";

describe("withServedPlaces", () => {
  test("a commit's deploy.toml says what the app is; the served one where it goes and with which secrets", () => {
    const served = { ...helloConfig, root: "/srv/repo" };
    const commit = {
      ...helloConfig,
      root: "/srv/repo/.qdeploy/serve/worktrees/abc",
      processes: { web: "hello serve", clock: "hello clock" },
      vars: { LOG_LEVEL: "debug" },
      hosts: [{ host: "evil.example", label: "root@evil.example" }],
      ssh: { knownHosts: "/dev/null", hostKey: "accept-new" as const, persistSec: 0 },
      secrets: { store: "command" as const, command: ["sh", "-c", "cat ~/.ssh/id_ed25519"] },
      serve: { ...helloConfig.serve, webhookSecret: "NOT_IT" },
    };
    const cfg = withServedPlaces(commit, served);
    expect([cfg.processes, cfg.vars]).toEqual([commit.processes, commit.vars]);
    expect([cfg.root, cfg.hosts, cfg.roles, cfg.ssh, cfg.secrets, cfg.serve]).toEqual([served.root, served.hosts, served.roles, served.ssh, served.secrets, served.serve]);
  });

  test("a commit without build.dir builds its own folder, never the served checkout (root is the served one's now)", () => {
    const commit = { ...helloConfig, root: "/srv/repo/.qdeploy/serve/worktrees/abc" };
    expect(commit.build.dir).toBeUndefined();
    const cfg = withServedPlaces(commit, { ...helloConfig, root: "/srv/repo" });
    expect([cfg.root, cfg.build.dir]).toEqual(["/srv/repo", "/srv/repo/.qdeploy/serve/worktrees/abc"]);
  });
});

const HINT = "app, firewall and web.domains are what the host and its other apps see: they come from the served deploy.toml. Change them there (on a host: commit, then run qdeploy serve --install ENV again), then push";

describe("a served commit decides the app, never the host", () => {
  // The fake's served config: helloConfig (root /work/example, the fake checkout's worktree too).
  const web = helloConfig.web!;
  const refused: [string, Partial<ResolvedConfig>, string][] = [
    ["app", { app: "evil" }, 'deploy.toml app: the commit changes it to "evil"; the served deploy.toml says "hello"'],
    ["firewall.allow", { firewall: { allow: [22, 80, 443, 5432, 6379] } }, "deploy.toml firewall.allow: the commit changes it to [22, 80, 443, 5432, 6379]; the served deploy.toml says [22, 80, 443]"],
    ["firewall.enabled", { firewall: null }, "deploy.toml firewall.enabled: the commit changes it to false; the served deploy.toml says true"],
    ["web.domains", { web: { ...web, domains: ["hello.localhost", "shop.example.com"], tls: "off" } }, 'deploy.toml web.domains: the commit adds "shop.example.com"; the served deploy.toml has ["hello.localhost"]'],
    // build.dir = "../other" of the commit's deploy.toml, as src/config/resolve.ts resolves it.
    ["build.dir", { build: { ...helloConfig.build, dir: "/work/other" } }, "deploy.toml build.dir: /work/other is outside the commit's checkout (/work/example): a served commit builds only its own files"],
  ];
  for (const [key, change, message] of refused) {
    test(`POST push of a commit that changes ${key}: 422 naming it; no host is touched`, async () => {
      const f = fakeServe();
      const servedLoad = f.deps.load;
      f.deps.load = async (env, file) => (file === undefined ? servedLoad(env) : { ...(await servedLoad(env)), ...change });
      const token = await f.token("deploy");
      const res = await createApp(f.deps).request("/api/v1/environments/prod/push", { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{}" });
      const { error } = (await res.json()) as { error?: { kind: string; message: string; hint?: string; problems: { path: string }[] } };
      expect([res.status, error?.kind, error?.message, error?.problems.map((p) => p.path)]).toEqual([422, "config", message, [key]]);
      expect(error?.hint).toBe(key === "build.dir" ? undefined : HINT);
      expect(f.log).toEqual([]);
      expect(f.hosts.prod![0]!.live).toBe("20261201000000");
    });
  }

  test("a webhook's push (answered at once) fails its run with the same error", async () => {
    const f = fakeServe();
    const servedLoad = f.deps.load;
    f.deps.load = async (env, file) => (file === undefined ? servedLoad(env) : { ...(await servedLoad(env)), app: "evil" });
    const run = await startPush(f.deps, "prod", "github", "main", "started");
    await run.done;
    expect([run.record.state, run.record.error?.kind, run.record.error?.message]).toEqual(["failed", "config", 'deploy.toml app: the commit changes it to "evil"; the served deploy.toml says "hello"']);
    expect(f.log).toEqual([]);
  });

  test("a build.dir that is a committed symlink to a folder outside the worktree is refused where it really points", async () => {
    const worktree = realpathSync(mkdtempSync(path.join(tmpdir(), "qdeploy-worktree-")));
    const outside = realpathSync(mkdtempSync(path.join(tmpdir(), "qdeploy-outside-")));
    symlinkSync(outside, path.join(worktree, "app"));
    const f = fakeServe({ cfg: { ...helloConfig, root: worktree } });
    const servedLoad = f.deps.load;
    f.deps.load = async (env, file) => (file === undefined ? servedLoad(env) : { ...(await servedLoad(env)), build: { ...helloConfig.build, dir: path.join(worktree, "app") } });
    const run = await startPush(f.deps, "prod", "github", "main", "started");
    await run.done;
    expect([run.record.state, run.record.error?.message]).toEqual(["failed", `deploy.toml build.dir: ${outside} is outside the commit's checkout (${worktree}): a served commit builds only its own files`]);
    expect(f.log).toEqual([]);
  });

  test("what only changes this app stays the commit's: processes, env, tls, a dropped domain, a build.dir inside the worktree", async () => {
    const worktree = realpathSync(mkdtempSync(path.join(tmpdir(), "qdeploy-worktree-")));
    mkdirSync(path.join(worktree, "cmd"));
    const f = fakeServe({ cfg: { ...helloConfig, root: worktree, web: { ...helloConfig.web!, domains: ["hello.localhost", "www.hello.localhost"] } } });
    const servedLoad = f.deps.load;
    const change = { processes: { web: "hello serve --fast" }, scale: {}, vars: { LOG_LEVEL: "debug" }, web: { ...helloConfig.web!, domains: ["HELLO.localhost"], tls: "auto" as const }, build: { ...helloConfig.build, dir: path.join(worktree, "cmd") } };
    f.deps.load = async (env, file) => (file === undefined ? servedLoad(env) : { ...(await servedLoad(env)), ...change });
    const run = await startPush(f.deps, "prod", "github", "main", "started");
    await run.done;
    expect([run.record.state, run.record.error]).toEqual(["succeeded", null]);
  });

  test("every refused key at once, each named, with the hint", () => {
    const commit = { ...helloConfig, app: "evil", firewall: { allow: [22, 5432] }, build: { ...helloConfig.build, dir: "/srv/repo" } };
    let error: unknown;
    try {
      servedCommitConfig(commit, { ...helloConfig, root: "/srv/repo" }, { worktree: "/srv/repo/.qdeploy/serve/worktrees/abc", file: "deploy/deploy.toml" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(
      [
        'deploy/deploy.toml app: the commit changes it to "evil"; the served deploy.toml says "hello"',
        "deploy/deploy.toml firewall.allow: the commit changes it to [22, 5432]; the served deploy.toml says [22, 80, 443]",
        "deploy/deploy.toml build.dir: /srv/repo is outside the commit's checkout (/srv/repo/.qdeploy/serve/worktrees/abc): a served commit builds only its own files",
      ].join("\n"),
    );
    expect((error as ConfigError).hint).toBe(HINT);
  });
});

describe("POST restart", () => {
  test("an unknown process is the request's 400, not a run that fails", async () => {
    const f = fakeServe();
    const token = await f.token("deploy");
    const res = await createApp(f.deps).request("/api/v1/environments/prod/restart", { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ process: "nope" }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('no process "nope" (processes: web, worker)');
    expect(f.deps.runs.list()).toEqual([]);
  });
});

describe("the server's runs are announced", () => {
  test("a rollback and a failed one through the API reach the served deploy.toml's [[notify]] webhook: started, then succeeded or failed", async () => {
    const heard: { event: string; release?: string; error?: string }[] = [];
    const receiver = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async (req) => (heard.push((await req.json()) as (typeof heard)[number]), new Response(null, { status: 204 })) });
    try {
      const f = fakeServe({
        environments: { prod: [{ label: "root@h1:22", live: "20261202000000", releases: ["20261201000000", "20261202000000"] }] },
        cfg: { ...helloConfig, notify: [{ kind: "webhook", url: `http://127.0.0.1:${receiver.port}/hook` }] },
      });
      const app = createApp(f.deps);
      const auth = { authorization: `Bearer ${await f.token("deploy")}`, "content-type": "application/json" };
      const rollback = (release: string) => app.request("/api/v1/environments/prod/rollback", { method: "POST", headers: auth, body: JSON.stringify({ release }) });
      const ok = (await (await rollback("20261201000000")).json()) as { run: { id: string } };
      await f.deps.runs.get(ok.run.id)!.done;
      f.hosts.prod![0]!.refuses = ["20261202000000"];
      const bad = (await (await rollback("20261202000000")).json()) as { run: { id: string } };
      await f.deps.runs.get(bad.run.id)!.done;
      expect(heard.map((n) => n.event)).toEqual(["rollback.started", "rollback.succeeded", "rollback.started", "rollback.failed"]);
      expect(heard[1]!.release).toBe("20261201000000");
      expect(heard[3]!.error).toContain("failed its health check");
    } finally {
      receiver.stop(true);
    }
  });
});
