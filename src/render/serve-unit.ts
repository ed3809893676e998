/**
 * `qdeploy serve --install ENV` on a host: the hardened systemd unit that runs the server as
 * its own system user, and the Caddy site that puts it behind TLS at [serve].domain. Pure:
 * (settings) -> text, like ./units.ts and ./caddy.ts.
 */
import { DOMAIN_NAME } from "./caddy.ts";

/** Where the installed server lives on its host. */
export const SERVE_HOST = {
  user: "qdeploy-serve",
  unit: "qdeploy-serve.service",
  /** The system user's home: its state (tokens, ssh and age keys, the checkout). */
  home: "/var/lib/qdeploy-serve",
  repo: "/var/lib/qdeploy-serve/repo",
  tokens: "/var/lib/qdeploy-serve/tokens.json",
  /** A `git bundle` of the local HEAD lands here, then the checkout fetches it. */
  bundle: "/var/lib/qdeploy-serve/upload.bundle",
  /** The `bun build --compile` of qdeploy, uploaded once per sha256. */
  executable: "/usr/local/lib/qdeploy-serve/qdeploy",
  unitFile: "/etc/systemd/system/qdeploy-serve.service",
  /** In the sites folder the main Caddyfile imports (src/render/caddy.ts renderCaddyMain). */
  site: "/etc/caddy/qdeploy/qdeploy-serve.caddy",
} as const;

export interface ServeUnitSettings {
  /** The app deploy.toml names (for the description). */
  app: string;
  /** deploy.toml inside the host's checkout (absolute). */
  configFile: string;
  /** The loopback port the server listens on (Caddy proxies to it). */
  port: number;
}

/** /etc/systemd/system/qdeploy-serve.service */
export function renderServeUnit(s: ServeUnitSettings): string {
  if (!/^\/[A-Za-z0-9_.\/-]+$/.test(s.configFile)) throw new Error(`serve unit: config path ${JSON.stringify(s.configFile)} must be a plain absolute path`);
  if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) throw new Error(`serve unit: port ${s.port} is not a TCP port`);
  const h = SERVE_HOST;
  return `# ${h.unit}: written by \`qdeploy serve --install\`; do not edit (run it again instead).
[Unit]
Description=qdeploy serve for ${s.app}: dashboard, API and deploy webhook on 127.0.0.1:${s.port}
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=${h.user}
Group=${h.user}
WorkingDirectory=${h.repo}
ExecStart=${h.executable} serve --config ${s.configFile} --listen 127.0.0.1:${s.port}
Environment=QDEPLOY_SERVE_TOKENS=${h.tokens}
Environment=HOME=${h.home}
# Pushes from the server build with Go: Go's own place first, then systemd's default PATH.
Environment=PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
Environment=NO_COLOR=1
Restart=on-failure
RestartSec=2s
# On stop, qdeploy serve lets a running deploy end before it exits (a fleet half switched is worse).
TimeoutStopSec=15min
UMask=0077
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
# Everything read-only but its own state: tokens, keys, the checkout, Go's caches for builds.
ProtectSystem=strict
ReadWritePaths=${h.home}
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
DevicePolicy=closed
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
# Caddy's admin socket is root's and caddy's; the server has no business there.
InaccessiblePaths=-/run/caddy
# No MemoryDenyWriteExecute=: Bun's JavaScript JIT needs memory that is writable and
# executable, and the server dies at start without it.

[Install]
WantedBy=multi-user.target
`;
}

export interface ServeSiteSettings {
  /** [serve].domain */
  domain: string;
  tls: "auto" | "internal";
  port: number;
}

/** /etc/caddy/qdeploy/qdeploy-serve.caddy: the domain proxied to the server on loopback. */
export function renderServeSite(s: ServeSiteSettings): string {
  if (!DOMAIN_NAME.test(s.domain) || s.domain.includes(":") || s.domain.startsWith("*.")) {
    throw new Error(`serve.domain: ${JSON.stringify(s.domain)} is not a host name`);
  }
  if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) throw new Error(`serve site: port ${s.port} is not a TCP port`);
  return `# qdeploy-serve: written by \`qdeploy serve --install\`; do not edit (run it again instead).
${s.domain} {
${s.tls === "internal" ? "\ttls internal\n" : ""}	reverse_proxy 127.0.0.1:${s.port} {
		# Server-Sent Events (a deploy's progress, logs -f): each event as soon as it is written.
		flush_interval -1
	}
}
`;
}
