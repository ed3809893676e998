/** The dashboard, server-rendered with hono's JSX (TODO issue 11, dashboard part). */
import { Hono } from "hono";
import type { ServeEnv } from "./app.ts";
import type { ServeDeps } from "./deps.ts";

/** The pages at /: they need a token, kept in a cookie by the login form. */
export function dashboardRoutes(_deps: ServeDeps): Hono<ServeEnv> {
  const ui = new Hono<ServeEnv>();
  ui.get("/", (c) => c.html(<p>qdeploy</p>));
  return ui;
}
