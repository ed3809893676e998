/**
 * Hono's env for every route of `qdeploy serve`, in a module of its own: the routes import it
 * and app.ts mounts them, so keeping it in app.ts made an import cycle.
 */
import type { TokenEntry } from "./tokens.ts";

/** Hono's env for every route: the token the request was let in with. */
export type ServeEnv = { Variables: { token: TokenEntry } };
