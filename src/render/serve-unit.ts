/**
 * `qdeploy serve --install ENV` on a host: the hardened systemd unit that runs the server as
 * its own system user, and the Caddy site that puts it behind TLS at [serve].domain. Pure:
 * (settings) -> text, like ./units.ts and ./caddy.ts.
 */
import { isHostName } from "./web-values.ts";
import { invariant } from "../errors.ts";

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
  /**
   * Where the server listens: a unix socket in a folder only it may write (RuntimeDirectory),
   * so no app on the host can take its place while it restarts, as one could a loopback port.
   */
  socket: "/run/qdeploy-serve/http.sock",
  /** The `bun build --compile` of qdeploy, uploaded once per sha256. */
  executable: "/usr/local/lib/qdeploy-serve/qdeploy",
  unitFile: "/etc/systemd/system/qdeploy-serve.service",
  /** In the sites folder the main Caddyfile imports (src/render/caddy.ts renderCaddyMain). */
  site: "/etc/caddy/qdeploy/qdeploy-serve.caddy",
  /** Builds of received commits: a connection to this socket starts one build unit (src/serve/sandboxed-build.ts). */
  buildSocket: "qdeploy-build.socket",
  buildSocketPath: "/run/qdeploy-build.sock",
  buildSocketFile: "/etc/systemd/system/qdeploy-build.socket",
  buildServiceFile: "/etc/systemd/system/qdeploy-build@.service",
} as const;

/**
 * What the server's unit and its build unit both deny themselves (each adds its own paths):
 * one list, so the two cannot drift apart.
 */
const LOCKDOWN = `UMask=0077
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
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
# No MemoryDenyWriteExecute=: Bun's JavaScript JIT needs memory that is writable and
# executable, and qdeploy dies at start without it.`;

export interface ServeUnitSettings {
  /** The app deploy.toml names (for the description). */
  app: string;
  /** deploy.toml inside the host's checkout (absolute). */
  configFile: string;
}

/** /etc/systemd/system/qdeploy-serve.service */
export function renderServeUnit(s: ServeUnitSettings): string {
  if (!/^\/[A-Za-z0-9_.\/-]+$/.test(s.configFile)) throw new Error(`serve unit: config path ${JSON.stringify(s.configFile)} must be a plain absolute path`);
  const h = SERVE_HOST;
  return `# ${h.unit}: written by \`qdeploy serve --install\`; do not edit (run it again instead).
[Unit]
Description=qdeploy serve for ${s.app}: dashboard, API and deploy webhook on ${h.socket}
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=${h.user}
Group=${h.user}
WorkingDirectory=${h.repo}
ExecStart=${h.executable} serve --config ${s.configFile} --listen unix:${h.socket}
# /run/qdeploy-serve: the server's alone to write (the socket 0666 in it: Caddy connects).
RuntimeDirectory=qdeploy-serve
RuntimeDirectoryMode=0755
Environment=QDEPLOY_SERVE_TOKENS=${h.tokens}
Environment=HOME=${h.home}
# Pushes from the server build with Go: Go's own place first, then systemd's default PATH.
Environment=PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
Environment=NO_COLOR=1
Restart=on-failure
RestartSec=2s
# On stop, qdeploy serve lets a running deploy end before it exits (a fleet half switched is worse).
TimeoutStopSec=15min
${LOCKDOWN}
# Everything read-only but its own state: tokens, keys, the checkout, Go's caches for builds.
ReadWritePaths=${h.home}
# Caddy's admin socket is root's and caddy's; the server has no business there.
InaccessiblePaths=-/run/caddy

[Install]
WantedBy=multi-user.target
`;
}

export interface ServeSiteSettings {
  /** [serve].domain */
  domain: string;
  tls: "auto" | "internal";
}

/** /etc/caddy/qdeploy/qdeploy-serve.caddy: the domain proxied to the server's socket. */
export function renderServeSite(s: ServeSiteSettings): string {
  // `check` refused anything else (src/config/rules.ts serveValid); asserted still, as what
  // keeps the domain from injecting Caddyfile syntax.
  invariant(isHostName(s.domain, false), `serve.domain: ${JSON.stringify(s.domain)} is not a host name`);
  return `# qdeploy-serve: written by \`qdeploy serve --install\`; do not edit (run it again instead).
${s.domain} {
${s.tls === "internal" ? "\ttls internal\n" : ""}	reverse_proxy unix/${SERVE_HOST.socket} {
		# Server-Sent Events (a deploy's progress, logs -f): each event as soon as it is written.
		flush_interval -1
	}
}
`;
}

/**
 * /etc/systemd/system/qdeploy-build.socket: only the server's user may connect; each
 * connection starts qdeploy-build@.service. One at a time: builds share the dynamic user, and
 * two at once could reach into each other (the server queues its builds too).
 */
export function renderBuildSocket(): string {
  const h = SERVE_HOST;
  return `# ${h.buildSocket}: written by \`qdeploy serve --install\`; do not edit (run it again instead).
[Unit]
Description=qdeploy serve's build sandbox: one build unit per connection

[Socket]
ListenStream=${h.buildSocketPath}
SocketUser=${h.user}
SocketGroup=${h.user}
SocketMode=0600
Accept=yes
MaxConnections=1

[Install]
WantedBy=sockets.target
`;
}

/**
 * /etc/systemd/system/qdeploy-build@.service: the build of a commit the server received,
 * which runs whatever that commit says (GOFLAGS=-toolexec, cgo's CC). A user of its own
 * (DynamicUser), a private /tmp that is its HOME and Go caches and goes away with it, and
 * nothing of the server's in reach: its home (the SSH key, the age identity, the tokens),
 * the releases and their env files, Caddy's admin socket, loopback (the server's port, the
 * apps', add-ons').
 */
export function renderBuildService(): string {
  const h = SERVE_HOST;
  return `# qdeploy-build@.service: written by \`qdeploy serve --install\`; do not edit (run it again instead).
[Unit]
Description=qdeploy serve's build of a received commit, as a user of its own
CollectMode=inactive-or-failed

[Service]
Type=simple
ExecStart=${h.executable} __build-worker
StandardInput=socket
StandardOutput=socket
StandardError=journal
DynamicUser=yes
User=qdeploy-build
Environment=HOME=/tmp
Environment=PATH=/usr/local/go/bin:/usr/local/bin:/usr/bin:/bin
RuntimeMaxSec=30min
Nice=10
${LOCKDOWN}
IPAddressDeny=localhost
InaccessiblePaths=${h.home} -/run/caddy -/srv/qdeploy
`;
}
