/**
 * Bearer tokens with roles. The API reads `Authorization: Bearer qdp_...`; the dashboard's
 * pages the same token from an HttpOnly cookie its login form sets. Without a valid token
 * nothing answers but /healthz and the webhooks (which check their own signature).
 */
import type { MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { AuthError } from "../errors.ts";
import type { ServeEnv } from "./env.ts";
import { ROLES, type Role, type TokenStore } from "./tokens.ts";

/** The dashboard's cookie holding the token (HttpOnly, SameSite=Strict). */
export const TOKEN_COOKIE = "qdeploy_token";

/** The token the request presents: the bearer header, else the dashboard's cookie. */
export function presentedToken(header: string | undefined, cookie: string | undefined): string | null {
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return m?.[1] ?? cookie ?? null;
}

/**
 * Lets the request through with a valid token of at least `role` (deploy includes read); sets
 * c.var.token. The cookie counts for GET and HEAD only (the dashboard's event streams),
 * unless `cookieForms`: the dashboard's own forms, which check the Origin (CSRF). A cookie
 * is sent by any page of the same site, another port of 127.0.0.1 included, so the API's
 * POSTs want the bearer header.
 */
export function requireRole(tokens: TokenStore, role: Role, o: { cookieForms?: boolean } = {}): MiddlewareHandler<ServeEnv> {
  return async (c, next) => {
    const safe = c.req.method === "GET" || c.req.method === "HEAD";
    const cookie = safe || o.cookieForms ? getCookie(c, TOKEN_COOKIE) : undefined;
    const presented = presentedToken(c.req.header("authorization"), cookie);
    if (!presented) throw new AuthError("unauthorized", "no token: send Authorization: Bearer qdp_... (qdeploy serve token add NAME --role read|deploy)");
    const entry = await tokens.verify(presented);
    if (ROLES.indexOf(entry.role) < ROLES.indexOf(role)) {
      throw new AuthError("forbidden", `token "${entry.name}" has role ${entry.role}; this needs ${role}`);
    }
    c.set("token", entry);
    await next();
  };
}
