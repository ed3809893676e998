/**
 * Caddy configuration (docs/server-layout.md): the main Caddyfile that imports one file per
 * app, and an app's site file proxying to both web slots, the live one (route/b) taking the
 * traffic. Pure: (checked config) -> text.
 */
import type { ResolvedConfig } from "../config/types.ts";
import { isHostName } from "./web-values.ts";
import { invariant } from "../errors.ts";
import { HOST_PATHS, layout } from "../server-layout.ts";
import { renderTemplate } from "./template.ts";
import mainTemplate from "../../caddy/Caddyfile" with { type: "text" };
import siteTemplate from "../../caddy/site.caddy" with { type: "text" };

/** The sites folder does not depend on the app; layout() only needs a name to build paths. */
const SITES_DIR = layout("-").caddySites;

/** Retry-After of the maintenance page: when a client (a crawler) should come back, in seconds. */
export const MAINTENANCE_RETRY_AFTER_SEC = 120;

/**
 * The line a site file carries when it has the maintenance switch: a site written by an older
 * qdeploy lacks it, and `maintenance on` refuses to claim a 503 that Caddy would not serve.
 */
export const MAINTENANCE_MATCHER = "@maintenance file {";

/**
 * The line a site file carries when the switch picks the live slot by a file (server/switch.sh
 * prefer): with an older site Caddy prefers slot A whatever runs, so no standby is kept.
 */
export const SLOT_MATCHER = "@slot_b file {";

/**
 * The app's site file: its domains proxied to both web slots (the host's pair), unless the
 * maintenance page exists (then a 503 with it); "" without [web].
 */
export function renderCaddySite(cfg: ResolvedConfig, ports: [number, number]): string {
  if (!cfg.web) return "";
  const { domains, tls } = cfg.web;
  // `check` refused anything else (src/config/rules.ts webValues, webNeedsDomainsAndHealth);
  // asserted still, as what keeps a value from injecting Caddyfile syntax.
  invariant(domains.length > 0, "web.domains: the web process needs at least one domain");
  for (const d of domains) invariant(isHostName(d), `web.domains: ${JSON.stringify(d)} is not a host name`);
  const addresses = domains.map((d) => (tls === "off" ? `http://${d}` : d)).join(", ");
  return renderTemplate(
    siteTemplate,
    {
      app: cfg.app,
      addresses,
      tls: tls === "internal" ? "\ttls internal\n" : "",
      portA: String(ports[0]),
      portB: String(ports[1]),
      maintenanceDir: layout(cfg.app).maintenance,
      routeDir: layout(cfg.app).route,
      retryAfter: String(MAINTENANCE_RETRY_AFTER_SEC),
    },
    "caddy/site.caddy",
  );
}

/** Caddy's admin API socket: in caddy.service's RuntimeDirectory (see renderCaddyDropIn). */
export const CADDY_ADMIN_SOCKET = HOST_PATHS.caddyAdmin;

/** /etc/caddy/Caddyfile: global options and an import of every app's site file in sitesDir. */
export function renderCaddyMain(sitesDir: string = SITES_DIR, adminSocket: string = CADDY_ADMIN_SOCKET): string {
  for (const p of [sitesDir, adminSocket]) invariant(/^\/[A-Za-z0-9_.\/-]*$/.test(p), `caddy path ${JSON.stringify(p)} must be a plain absolute path`);
  return renderTemplate(mainTemplate, { sitesDir: sitesDir.replace(/\/+$/, ""), adminSocket }, "caddy/Caddyfile");
}

/**
 * /etc/systemd/system/caddy.service.d/qdeploy.conf: a /run/caddy that only caddy (and root)
 * can enter, for the admin socket, and a umask that makes the socket 0700 (Debian's Caddy
 * 2.6.2 has no syntax for the socket's mode: `unix//path|0600` arrived in 2.7).
 */
export function renderCaddyDropIn(): string {
  return `# caddy.service.d/qdeploy.conf: written by \`qdeploy setup\`; do not edit.
[Service]
RuntimeDirectory=caddy
RuntimeDirectoryMode=0700
UMask=0077
`;
}
