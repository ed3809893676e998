import { describe, expect, test } from "bun:test";
import { helloConfig } from "../../test/fixtures/config.ts";
import { fakeServe } from "../../test/fixtures/serve-deps.ts";
import { createApp } from "./app.ts";
import { withServedPlaces } from "./actions.ts";

describe("withServedPlaces", () => {
  test("a commit's deploy.toml says what the app is; the served one where it goes and with which secrets", () => {
    const served = { ...helloConfig, root: "/srv/repo" };
    const commit = {
      ...helloConfig,
      root: "/srv/repo/.qdeploy/serve/worktrees/abc",
      processes: { web: "hello serve", clock: "hello clock" },
      vars: { LOG_LEVEL: "debug" },
      hosts: [{ host: "evil.example", label: "root@evil.example" }],
      ssh: { knownHosts: "/dev/null", hostKey: "accept-new" as const },
      secrets: { store: "command" as const, command: ["sh", "-c", "cat ~/.ssh/id_ed25519"] },
      serve: { ...helloConfig.serve, webhookSecret: "NOT_IT" },
    };
    const cfg = withServedPlaces(commit, served);
    expect([cfg.processes, cfg.vars]).toEqual([commit.processes, commit.vars]);
    expect([cfg.root, cfg.hosts, cfg.roles, cfg.ssh, cfg.secrets, cfg.serve]).toEqual([served.root, served.hosts, served.roles, served.ssh, served.secrets, served.serve]);
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
