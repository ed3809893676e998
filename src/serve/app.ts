/**
 * `qdeploy serve`'s HTTP side: createApp(deps) returns the hono app; Bun.serve runs it
 * (./serve.ts), tests call app.request() without opening a port.
 */
import { Hono } from "hono";
import { apiRoutes } from "./api.ts";
import { dashboardRoutes } from "./dashboard.tsx";
import type { ServeDeps } from "./deps.ts";
import type { ServeEnv } from "./env.ts";
import { hookRoutes } from "./hooks.ts";
import { onError } from "./http-errors.ts";
import { metricsRoutes } from "./metrics-route.ts";

/** The whole app: /healthz, /api/v1, /metrics, /hooks, and the dashboard at /. */
export function createApp(deps: ServeDeps): Hono<ServeEnv> {
  const app = new Hono<ServeEnv>();
  // No other site may frame a page (clickjacking: a hidden dashboard under a decoy's clicks,
  // rollback and restart buttons included). Every answer, not only the pages: an error page
  // or a JSON answer framed is no better, and one rule cannot miss a new route.
  app.use(async (c, next) => {
    await next();
    c.res.headers.set("Content-Security-Policy", "frame-ancestors 'none'");
    c.res.headers.set("X-Frame-Options", "DENY"); // for browsers without CSP's frame-ancestors
  });
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.route("/api/v1", apiRoutes(deps));
  app.route("/metrics", metricsRoutes(deps));
  app.route("/hooks", hookRoutes(deps));
  app.route("/", dashboardRoutes(deps));
  app.notFound((c) => c.json({ ok: false, error: { kind: "not-found", message: `no route ${c.req.method} ${c.req.path}` } }, 404));
  app.onError(onError);
  return app;
}
