/** GET /metrics (./metrics.ts renders it): the runs' counters and each environment's status. */
import { Hono } from "hono";
import { status } from "../ops/status.ts";
import { inspect } from "./actions.ts";
import { requireRole } from "./auth.ts";
import type { ServeDeps } from "./deps.ts";
import type { ServeEnv } from "./env.ts";
import { type EnvStatus, renderMetrics, STATUS_TTL_MS } from "./metrics.ts";

/** GET /metrics with a read token (Prometheus: `authorization: { credentials: TOKEN }`). */
export function metricsRoutes(deps: ServeDeps): Hono<ServeEnv> {
  const routes = new Hono<ServeEnv>();
  const cache = new Map<string, { at: number; value: Promise<EnvStatus> }>();
  const envStatus = (env: string): Promise<EnvStatus> => {
    const hit = cache.get(env);
    if (hit && Date.now() - hit.at < STATUS_TTL_MS) return hit.value;
    const value = inspect(deps, env, "metrics", (op) => status(op)).then(
      (s): EnvStatus => ({ env, status: s }),
      (e: unknown): EnvStatus => ({ env, error: e instanceof Error ? e.message : String(e) }),
    );
    cache.set(env, { at: Date.now(), value });
    return value;
  };
  routes.get("/", requireRole(deps.tokens, "read"), async (c) => {
    const envs = await Promise.all(deps.environments.map(envStatus));
    return c.body(renderMetrics(deps.runs.metrics.all(), envs), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  });
  return routes;
}
