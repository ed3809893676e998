/**
 * Caddy configuration (docs/server-layout.md): the main Caddyfile that imports one file per
 * app, and an app's site file with the upstream port left as UPSTREAM_PLACEHOLDER for the
 * switch to fill in. Pure: (config) -> text.
 */
import type { ResolvedConfig } from "../config/types.ts";
import { layout, UPSTREAM_PLACEHOLDER } from "../plan/layout.ts";
import { renderTemplate } from "./template.ts";
import mainTemplate from "../../caddy/Caddyfile" with { type: "text" };
import siteTemplate from "../../caddy/site.caddy" with { type: "text" };

/** The sites folder does not depend on the app; layout() only needs a name to build paths. */
const SITES_DIR = layout("-").caddySites;

/** The app's site file: its domains proxied to 127.0.0.1:UPSTREAM_PLACEHOLDER; "" without [web]. */
export function renderCaddySite(cfg: ResolvedConfig): string {
  if (!cfg.web) return "";
  const { domains, tls } = cfg.web;
  if (domains.length === 0) throw new Error(`web.domains: the web process needs at least one domain`);
  for (const d of domains) {
    // Also what keeps a domain from injecting Caddyfile syntax.
    if (!/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]{1,5})?$/.test(d)) {
      throw new Error(`web.domains: ${JSON.stringify(d)} is not a host name`);
    }
  }
  const addresses = domains.map((d) => (tls === "off" ? `http://${d}` : d)).join(", ");
  return renderTemplate(
    siteTemplate,
    {
      app: cfg.app,
      addresses,
      tls: tls === "internal" ? "\ttls internal\n" : "",
      upstream: UPSTREAM_PLACEHOLDER,
    },
    "caddy/site.caddy",
  );
}

/** /etc/caddy/Caddyfile: global options and an import of every app's site file in sitesDir. */
export function renderCaddyMain(sitesDir: string = SITES_DIR): string {
  if (!/^\/[A-Za-z0-9_.\/-]*$/.test(sitesDir)) throw new Error(`caddy sites dir ${JSON.stringify(sitesDir)} must be a plain absolute path`);
  return renderTemplate(mainTemplate, { sitesDir: sitesDir.replace(/\/+$/, "") }, "caddy/Caddyfile");
}
