/** The HTTPS addresses a deploy prints, with the sandbox VMs' forwarded ports where they apply. */
import path from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { hostProcesses } from "../plan/fleet.ts";
import { sandboxFleetStatus } from "../sandbox/index.ts";

/**
 * One URL per domain; for web hosts that are local sandbox VMs, one per VM and domain, with
 * the port its 443 (or 80) is forwarded to.
 */
export async function siteUrls(cfg: ResolvedConfig): Promise<string[]> {
  if (!cfg.web) return [];
  const scheme = cfg.web.tls === "off" ? "http" : "https";
  const local = cfg.hosts.filter((h) => (h.host === "127.0.0.1" || h.host === "localhost") && hostProcesses(cfg, h).includes("web"));
  const ports: string[] = [];
  if (local.length) {
    // A sandbox keeps its key in PROJECT/.qdeploy/sandbox/: that names the project whose
    // sandbox this is, even when deploy.toml lives elsewhere.
    const identity = cfg.ssh.identity ? path.resolve(cfg.root, cfg.ssh.identity) : "";
    const projectDir = identity.endsWith(path.join(".qdeploy", "sandbox", "id_ed25519")) ? path.resolve(identity, "../../..") : cfg.root;
    const vms = (await sandboxFleetStatus({ projectDir })).filter((vm) => vm.running);
    for (const h of local) {
      const vm = vms.find((v) => v.sshPort === h.port);
      if (vm) ports.push(`:${scheme === "https" ? vm.httpsPort : vm.httpPort}`);
    }
  }
  if (!ports.length) ports.push("");
  return cfg.web.domains.flatMap((d) => ports.map((port) => `${scheme}://${d}${port}/`));
}
