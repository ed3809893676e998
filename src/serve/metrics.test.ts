/** GET /metrics: Prometheus's own parser (test/fixtures/promparse, Go's prometheus/common/expfmt) reads what it serves. */
import { describe, expect, test } from "bun:test";
import { fakeServe } from "../../test/fixtures/serve-deps.ts";
import { promParse } from "../../test/prom-parse.ts";
import { createApp } from "./app.ts";
import { DeployMetrics, renderMetrics } from "./metrics.ts";

describe("renderMetrics", () => {
  test("counters and a histogram of finished runs, each environment's hosts and units; Prometheus's parser reads it", () => {
    const m = new DeployMetrics();
    m.record({ env: "prod", action: "push", state: "succeeded", started: "2026-12-05T10:00:00Z", finished: "2026-12-05T10:00:07Z" });
    m.record({ env: "prod", action: "push", state: "succeeded", started: "2026-12-05T11:00:00Z", finished: "2026-12-05T11:00:45Z" });
    m.record({ env: "prod", action: "rollback", state: "failed", started: "2026-12-05T12:00:00Z", finished: "2026-12-05T12:00:03Z" });
    const text = renderMetrics(m.all(), [
      {
        env: "prod",
        status: {
          hosts: [
            {
              host: 'root@"odd"\\host',
              roles: ["web", "worker"],
              live: "20261205110000",
              slot: "8001",
              health: "ok",
              units: [
                { unit: "hello-web@8001.service", active: "active", sub: "running", usage: { memoryBytes: 12_000_000, memoryMaxBytes: 536870912, cpuSeconds: 1.25, cpuQuota: null, restarts: 0 } },
                { unit: "hello-restart.timer", active: "active", sub: "waiting" },
              ],
              timers: [],
              standby: { port: 8002, release: "20261205100000", until: "2026-12-05T11:15:00.000Z", memoryBytes: 9_000_000 },
              watchdog: { restarts: 2, last: "2026-12-05T11:30:00.000Z" },
            },
          ],
          drift: null,
          addons: [],
        },
      },
      { env: "staging", error: "no route to host" },
    ]);
    const f = promParse(text);
    expect(f.qdeploy_deploys_total!.type).toBe("COUNTER");
    expect(f.qdeploy_deploys_total!.samples).toEqual([
      { labels: { env: "prod", action: "push", outcome: "succeeded" }, value: 2 },
      { labels: { env: "prod", action: "rollback", outcome: "failed" }, value: 1 },
    ]);
    expect(f.qdeploy_deploy_duration_seconds!.type).toBe("HISTOGRAM");
    expect(f.qdeploy_deploy_duration_seconds!.samples[0]).toEqual({ labels: { env: "prod", action: "push", outcome: "succeeded" }, count: 2, sum: 52 });
    expect(text).toContain('qdeploy_deploy_duration_seconds_bucket{env="prod",action="push",outcome="succeeded",le="10"} 1\n');
    expect(text).toContain('qdeploy_deploy_duration_seconds_bucket{env="prod",action="push",outcome="succeeded",le="60"} 2\n');
    expect(f.qdeploy_status_up!.samples).toEqual([
      { labels: { env: "prod" }, value: 1 },
      { labels: { env: "staging" }, value: 0 },
    ]);
    const host = 'root@"odd"\\host';
    expect(f.qdeploy_live_release_info!.samples).toEqual([{ labels: { env: "prod", host, release: "20261205110000" }, value: 1 }]);
    expect(f.qdeploy_web_healthy!.samples).toEqual([{ labels: { env: "prod", host }, value: 1 }]);
    expect(f.qdeploy_unit_active!.samples).toHaveLength(2);
    expect(f.qdeploy_unit_memory_limit_bytes!.samples).toEqual([{ labels: { env: "prod", host, unit: "hello-web@8001.service" }, value: 536870912 }]);
    expect(f.qdeploy_unit_cpu_seconds_total!.samples[0]!.value).toBe(1.25);
    expect(f.qdeploy_watchdog_restarts_total!.samples[0]!.value).toBe(2);
    expect(f.qdeploy_standby_until_timestamp_seconds!.samples[0]!.value).toBe(Date.parse("2026-12-05T11:15:00Z") / 1000);
  });
});

describe("GET /metrics", () => {
  test("needs a read token; then the runs this server finished and each host's status, read from the hosts", async () => {
    const f = fakeServe();
    const app = createApp(f.deps);
    expect((await app.request("/metrics")).status).toBe(401);
    await f.deps.runs.start({ env: "prod", action: "restart", by: "t" }, async () => ({})).done;
    const read = await f.token("read", { name: "prometheus" });
    const res = await app.request("/metrics", { headers: { authorization: `Bearer ${read}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const fams = promParse(await res.text());
    expect(fams.qdeploy_deploys_total!.samples).toEqual([{ labels: { env: "prod", action: "restart", outcome: "succeeded" }, value: 1 }]);
    expect(fams.qdeploy_live_release_info!.samples).toEqual([{ labels: { env: "prod", host: "root@h1:22", release: "20261201000000" }, value: 1 }]);
  });
});
