/** The HTTPS addresses a deploy prints, with the sandbox's forwarded port where it applies. */
import type { ResolvedConfig } from "../config/types.ts";
import { sandboxStatus } from "../sandbox/index.ts";

/** One URL per domain; for the local sandbox, the port that its 443 (or 80) is forwarded to. */
export async function siteUrls(cfg: ResolvedConfig): Promise<string[]> {
  if (!cfg.web) return [];
  const scheme = cfg.web.tls === "off" ? "http" : "https";
  let port = "";
  const local = cfg.hosts.find((h) => h.host === "127.0.0.1" || h.host === "localhost");
  if (local) {
    const sb = await sandboxStatus({ projectDir: cfg.root });
    if (sb.running && sb.sshPort === local.port) port = `:${scheme === "https" ? sb.httpsPort : sb.httpPort}`;
  }
  return cfg.web.domains.map((d) => `${scheme}://${d}${port}/`);
}
