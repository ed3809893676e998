/**
 * The host's inbound firewall ([firewall] in deploy.toml): the files setup installs. The
 * ruleset itself is built on the host by server/firewall.sh from every app's ports file, so
 * apps sharing a host add up instead of overwriting each other. Pure: (checked config) -> text.
 */
import type { ResolvedConfig } from "../config/types.ts";
import { HOST_PATHS } from "../server-layout.ts";
import { renderTemplate } from "./template.ts";
import unitTemplate from "../../systemd/qdeploy-firewall.service" with { type: "text" };

/** Where the firewall's files live on a host. */
export const FIREWALL = {
  dir: HOST_PATHS.firewallDir,
  apply: `${HOST_PATHS.firewallDir}/apply`,
  ports: (app: string) => `${HOST_PATHS.firewallDir}/${app}.ports`,
  unitName: "qdeploy-firewall.service",
  unit: "/etc/systemd/system/qdeploy-firewall.service",
} as const;

/** qdeploy-firewall.service: runs the apply script at boot. */
export function renderFirewallUnit(): string {
  return renderTemplate(unitTemplate, { apply: FIREWALL.apply }, "systemd/qdeploy-firewall.service");
}

/** APP.ports: the TCP ports this app wants open (each 1..65535: the schema's), one line; null when [firewall] is off. */
export function renderFirewallPorts(cfg: ResolvedConfig): string | null {
  if (!cfg.firewall) return null;
  return `${cfg.firewall.allow.join(" ")}\n`;
}
