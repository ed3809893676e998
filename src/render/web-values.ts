/**
 * What [web] health and domains and [serve].domain may be: what the health probe's request
 * line and a Caddy site (src/render/caddy.ts, src/render/serve-unit.ts) can carry as written.
 */

/** A plain URL path: the switch's health probe writes it into its request line as is. */
export const HEALTH_PATH = /^\/[A-Za-z0-9._~\/%?=&+-]*$/;

const LABEL = "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?";
const HOST_NAME = new RegExp(`^(\\*\\.)?${LABEL}(\\.${LABEL})*$`);

/**
 * A bare host name (no scheme, port or path), `*.` first only when `wildcard`: also what
 * keeps a domain from injecting Caddyfile syntax.
 */
export function isHostName(name: string, wildcard = true): boolean {
  return HOST_NAME.test(name) && (wildcard || !name.startsWith("*."));
}
