/** The JSON API, /api/v1 (TODO issue 11, API part). */
import { Hono } from "hono";
import type { ServeEnv } from "./app.ts";
import { requireRole } from "./auth.ts";
import type { ServeDeps } from "./deps.ts";

/** Every /api/v1 route; each needs a token (read to look, deploy to change). */
export function apiRoutes(deps: ServeDeps): Hono<ServeEnv> {
  const api = new Hono<ServeEnv>();
  api.use("*", requireRole(deps.tokens, "read"));
  api.get("/environments", (c) => c.json({ ok: true, environments: deps.environments }));
  return api;
}
