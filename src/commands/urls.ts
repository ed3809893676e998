/** The HTTPS addresses a deploy prints, with the sandbox's forwarded port where it applies. */
import path from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { sandboxStatus } from "../sandbox/index.ts";

/** One URL per domain; for the local sandbox, the port that its 443 (or 80) is forwarded to. */
export async function siteUrls(cfg: ResolvedConfig): Promise<string[]> {
  if (!cfg.web) return [];
  const scheme = cfg.web.tls === "off" ? "http" : "https";
  let port = "";
  const local = cfg.hosts.find((h) => h.host === "127.0.0.1" || h.host === "localhost");
  if (local) {
    // A sandbox keeps its key in PROJECT/.qdeploy/sandbox/: that names the project whose
    // sandbox this is, even when deploy.toml lives elsewhere.
    const identity = cfg.ssh.identity ? path.resolve(cfg.root, cfg.ssh.identity) : "";
    const projectDir = identity.endsWith(path.join(".qdeploy", "sandbox", "id_ed25519")) ? path.resolve(identity, "../../..") : cfg.root;
    const sb = await sandboxStatus({ projectDir });
    if (sb.running && sb.sshPort === local.port) port = `:${scheme === "https" ? sb.httpsPort : sb.httpPort}`;
  }
  return cfg.web.domains.map((d) => `${scheme}://${d}${port}/`);
}
