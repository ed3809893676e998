/** Deploy webhooks, /hooks (TODO issue 11, webhook part). */
import { Hono } from "hono";
import type { ServeEnv } from "./app.ts";
import type { ServeDeps } from "./deps.ts";

/** POST /hooks/github and POST /hooks/deploy: signed with the webhook secret, no token. */
export function hookRoutes(_deps: ServeDeps): Hono<ServeEnv> {
  return new Hono<ServeEnv>();
}
