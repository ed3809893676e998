/**
 * The shape of deploy.toml. The JSON Schema in ./schema.ts is typed against these
 * (ajv's JSONSchemaType), so the two cannot drift apart.
 */
import type { LogDrain } from "./log-drain.ts";
import type { RawResources, ResolvedResources } from "./resources.ts";

/** `[build]`: how the Go binary is cross-compiled. */
export interface BuildConfig {
  /** The Go module's folder (with go.mod), relative to deploy.toml; default: deploy.toml's folder. */
  dir?: string;
  /** Package patterns: one string (space-separated, like GO_INSTALL_PACKAGE_SPEC) or a list. */
  main?: string | string[];
  binary?: string;
  cgo?: boolean;
  ldflags?: string;
  tags?: string[];
  stamp?: { symbol: string; value: string };
  /** The Go release to build with (go1.25, go1.25.3): GOVERSION that stays out of the app's environment. */
  go?: string;
}

/** `[web]`: the web process behind Caddy. */
export interface WebConfig {
  domains?: string[];
  health?: string;
  tls?: "auto" | "internal" | "off";
  drain?: string;
  /** How long a new release may take to answer its health path. */
  health_timeout?: string;
  /** How long the previous release's web slot stays running after a push (the warm standby). */
  standby?: string;
  /** How long the live web slot may go without answering its health path before it is restarted (a duration; "0", the default: never). */
  watchdog?: string;
}

/** `[restart]`: scheduled zero-downtime restart. */
export interface RestartConfig {
  at: string;
  jitter?: string;
}

/** One `[[jobs]]` entry: a scheduled one-off command. */
export interface JobConfig {
  name: string;
  command: string;
  at: string;
  jitter?: string;
  /** Longest a run may take before systemd stops it (a hung run would stop its timer for good). */
  timeout?: string;
  /** "one" (default): the timer runs on one host of the environment (src/plan/fleet.ts dutyHost); "all": on every host. */
  hosts?: "one" | "all";
}

/** `[rollout]`: how a push moves through the hosts, in waves. */
export interface RolloutConfig {
  /** Hosts per wave: a count or "N%" of the hosts. Default: one host first (canary), then all the rest. */
  batch?: number | string;
  /** Wait between waves (a duration). Default "0s". */
  pause?: string;
  /** Hosts a push, rollback or restart works on at once: handshakes, lock and facts, release writes (src/plan/waves.ts hostConcurrency). Default 32. */
  concurrency?: number;
}

/** `[firewall]`: the host's inbound policy (nftables), installed by setup. */
export interface FirewallConfig {
  /** false: leave the host's firewall alone. Default true. */
  enabled?: boolean;
  /** TCP ports admitted from outside. Default [22, 80, 443]; the SSH server's ports are always admitted. */
  allow?: number[];
}

/** `[addons.NAME]`: a database or cache qdeploy installs and wires on one of the environment's hosts. */
export interface AddonConfig {
  /** Debian's postgresql or redis-server package on the host (required, at the top level or the environment's). */
  service?: "postgres" | "redis";
  /** The host it runs on, as written in the environment's hosts. Default: the environment's first host. */
  host?: string;
  /** The host's private IP address the environment's other hosts reach it at (then it listens there, with TLS). */
  address?: string;
  /** The variable the app reads it from. Default DATABASE_URL (postgres), REDIS_URL (redis). */
  var?: string;
  /** A backup timer: when (OnCalendar) and how many to keep. Default { at = "daily", keep = 7 }. */
  backup?: { at?: string; keep?: number };
}

/** `[ssh]`: how hosts are reached. */
export interface SshConfig {
  identity?: string;
  known_hosts?: string;
  jump?: string;
  host_key?: "strict" | "accept-new";
  persist?: string;
}

/** `[secrets]`: where secret values come from. */
export interface SecretsConfig {
  store?: "age" | "env" | "command";
  /** store = "env": the names read from the local environment. */
  names?: string[];
  /** store = "command": an argv whose stdout is KEY=VALUE lines. */
  command?: string[];
  /** store = "age": the encrypted file; default secrets/ENV.env.age. */
  file?: string;
  /** store = "age": the recipients file; default secrets/recipients.txt. */
  recipients?: string;
}

/** The tables an environment may override. */
export interface Overridable {
  build?: BuildConfig;
  processes?: Record<string, string>;
  web?: WebConfig;
  scale?: Record<string, number>;
  restart?: RestartConfig;
  jobs?: JobConfig[];
  env?: Record<string, string>;
  secrets?: SecretsConfig;
  ssh?: SshConfig;
  /** Releases kept on each host (default 5). */
  keep_releases?: number;
  /** Longest the release phase may run (a duration, default "10m"). */
  release_timeout?: string;
  firewall?: FirewallConfig;
  rollout?: RolloutConfig;
  /** Local commands around a push or rollback (src/ops/hooks.ts). */
  hooks?: HooksConfig;
  /** Where pushes, rollbacks and their failures are announced (src/ops/notify.ts). */
  notify?: NotifyConfig[];
  /** Add-ons by name (a word: it names a unit, a folder and a database). */
  addons?: Record<string, AddonConfig>;
  /** Limits by process name (src/config/resources.ts). */
  resources?: Record<string, RawResources>;
  /** Where the app's journal goes (src/config/log-drain.ts). */
  logs?: LogsConfig;
}

/** `[logs]`: drain = "syslog+tls://HOST:PORT" ("" for none, to turn a top-level drain off in one environment). */
export interface LogsConfig {
  drain?: string;
}

/** What a notification target hears about. */
export const NOTIFY_EVENTS = [
  "push.started",
  "push.succeeded",
  "push.failed",
  "rollback.started",
  "rollback.succeeded",
  "rollback.failed",
  "promote.started",
  "promote.succeeded",
  "promote.failed",
  "drift",
] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

/** `[[notify]]`: one target. */
export interface NotifyConfig {
  /** webhook: JSON, signed; slack: a Slack-compatible incoming webhook; email: through this machine's sendmail. */
  kind: "webhook" | "slack" | "email";
  url?: string;
  /** The URL from the secret store instead (a Slack webhook's URL is its credential). */
  url_secret?: string;
  /** webhook: the secret store's name whose value signs the body (X-Qdeploy-Signature-256). */
  secret?: string;
  /** email: the recipients. */
  to?: string[];
  /** Default: every event. */
  events?: NotifyEvent[];
}

/** The hooks, in the order a push meets them. */
export const HOOK_NAMES = ["pre_build", "pre_deploy", "post_deploy", "post_rollback", "on_failure"] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** `[hooks]`: a shell command line per hook, run on the deploying machine; timeout a duration (default "5m"). */
export interface HooksConfig {
  pre_build?: string;
  pre_deploy?: string;
  post_deploy?: string;
  post_rollback?: string;
  on_failure?: string;
  /** On every host of a push once it is live everywhere, the release phase's way (src/plan/release-phase.ts). */
  remote_post_deploy?: string;
  timeout?: string;
}

/** `[environments.NAME]`: exactly one of hosts and roles (src/config/rules.ts hostsOrRoles). */
export interface EnvironmentConfig extends Overridable {
  /** Every host runs every process. */
  hosts?: string[];
  /** Process name -> the hosts that run it (Kamal's roles). */
  roles?: Record<string, string[]>;
}

/** `[serve]`: `qdeploy serve`, the dashboard, API and deploy webhook (one table for every environment). */
export interface ServeConfig {
  /** host:port to listen on; default 127.0.0.1:7070. */
  listen?: string;
  /** `serve --install ENV`: Caddy serves the dashboard at this domain, with TLS. */
  domain?: string;
  /** TLS for `domain`: auto (ACME) or internal (Caddy's own CA). Default auto. */
  tls?: "auto" | "internal";
  /** Name of the secret (in each environment's store) that signs webhooks; never reaches the app. Default WEBHOOK_SECRET. */
  webhook_secret?: string;
  /** The git remote webhook deploys fetch commits from. Default origin. */
  remote?: string;
  /** Git branch -> the environment a push to it deploys. */
  branches?: Record<string, string>;
  /** Name of a secret (in the previews' environment's store) holding a GitHub token: review apps post commit statuses with it. */
  github_token?: string;
  /** GitHub's API (GitHub Enterprise: https://HOST/api/v3). Default https://api.github.com. */
  github_api?: string;
}

/** `[previews]`: review apps, one per pull request, on one environment's hosts (src/plan/review-app.ts). */
export interface PreviewsConfig {
  /** The environment whose hosts, secrets, env and add-on definitions every preview uses. */
  environment: string;
  /** A wildcard under which each preview gets its name: "*.preview.example.com" gives pr-7.preview.example.com. */
  domain: string;
  /** How many previews may be alive at once; the next one is refused. Default 5. */
  max?: number;
  /** How long a preview lives after its last deploy. Default "5d". */
  ttl?: string;
  /** Build pull requests from forks too. Default false. */
  forks?: boolean;
  /** Allow previews on hosts of an environment named production or prod. Default false. */
  production_hosts?: boolean;
  /** A new preview's Postgres databases start from the environment's newest backup of them (else empty). Default false. */
  seed?: boolean;
  /** With seed: run once on a new preview, after its release phase, as the release phase runs (scrub personal data). */
  scrub?: string;
}

/** deploy.toml as written. */
export interface RawConfig extends Overridable {
  app: string;
  environments?: Record<string, EnvironmentConfig>;
  serve?: ServeConfig;
  previews?: PreviewsConfig;
}

/** A host of `user@host[:port]`, parsed. */
export interface HostAddress {
  /** Not given in deploy.toml: ~/.ssh/config's User, else root (src/remote/ssh-config.ts). */
  user?: string;
  /** A name or address, or a Host alias of ~/.ssh/config. */
  host: string;
  /** Not given: ~/.ssh/config's Port, else 22. */
  port?: number;
  /** As written in deploy.toml, used as the log prefix. */
  label: string;
}

/** One main package and the name of its binary. */
export interface MainPackage {
  /** The import path; for .go files, the files as given ("./cmd/admin/main.go"). */
  importPath: string;
  /** The folder, relative to the module root ("." for the root). */
  dir: string;
  /** `go install`'s name: the last import-path element, skipping a /vN suffix; for .go files, the first file's name without .go. */
  name: string;
  /** .go files named in the spec: what `go build` is given instead of an import path. */
  files?: string[];
}

/** One environment with every default filled in: what planning and deploying read. */
export interface ResolvedConfig {
  app: string;
  env: string;
  /** Folder of deploy.toml; relative paths in it are taken from here. */
  root: string;
  /**
   * Every host of the environment, once each (by label), in the order first written (with
   * roles: role by role as written, each role's hosts in order).
   */
  hosts: HostAddress[];
  /** Role (process name) -> the labels of the hosts that run it; null: every host runs everything. */
  roles: Record<string, string[]> | null;
  /** Waves of a push (src/plan/waves.ts): batch null is one host first (canary), then the rest. */
  rollout: { batch: number | { percent: number } | null; pauseSec: number; /** rollout.concurrency as written; absent: the default (hostConcurrency). */ concurrency?: number };
  build: {
    /** The Go module's folder, absolute (build.dir resolved against root). Optional only for older fixtures: resolveEnvironment always sets it. */
    dir?: string;
    /**
     * build.main as written (a pattern string or a list); absent: GO_INSTALL_PACKAGE_SPEC,
     * go.mod's `// +heroku install`, else "." (src/build/packages.ts packageSpec).
     */
    main?: string | string[];
    binary: string;
    /** build.binary was written (not the app-name default): refused with several main packages. */
    binaryGiven?: boolean;
    /**
     * The names in a release's bin/ (shared contract 1), set once the packages are expanded
     * (src/build/packages.ts resolveBinaries). Absent: `[binary]`.
     */
    binaries?: string[];
    /**
     * The main packages build.main expanded to, when loading the environment expanded them
     * (src/config/check-packages.ts loadWithPackages): the build takes them instead of running
     * `go list` a second time. Absent: the build expands them.
     */
    packages?: MainPackage[];
    cgo: boolean;
    ldflags: string;
    /** build.ldflags was written: an install spec's -ldflags does not replace it (src/build/build-vars.ts withInstallFlags). */
    ldflagsGiven?: boolean;
    tags: string[];
    /** build.tags was written: an install spec's -tags does not replace it. */
    tagsGiven?: boolean;
    stamp: { symbol: string; value: string } | null;
    /** build.stamp was written: GO_LINKER_SYMBOL/VALUE do not replace it (src/build/build-vars.ts). */
    stampGiven?: boolean;
    /** build.go: the Go release to build with, above GOVERSION and go.mod (src/build/gomod.ts requiredGoVersion). */
    go?: string;
  };
  /** Process name -> command line; "web" is the one behind Caddy. Never "release". */
  processes: Record<string, string>;
  /** Heroku's release phase (Procfile `release:`): run once per push before any host switches. */
  release: { command: string; timeoutSec: number } | null;
  web: {
    domains: string[];
    health: string;
    tls: "auto" | "internal" | "off";
    drainSec: number;
    healthTimeoutSec: number;
    /** The warm standby's window (web.standby); 0: none. */
    standbySec: number;
    /** web.watchdog: seconds the live slot may fail its health path before it is restarted; 0: never. */
    watchdogSec: number;
  } | null;
  /** Instances per host for every non-web process (web always runs one live instance). */
  scale: Record<string, number>;
  /** Limits by process name, for the processes that have any ([resources.PROC]). */
  resources: Record<string, ResolvedResources>;
  /**
   * offsetSec: how long this host's restart waits after its timer fires (ExecStartPre sleep),
   * set per host by src/plan/fleet.ts hostConfig so hosts never restart together.
   */
  restart: { at: string; jitterSec: number; offsetSec?: number } | null;
  /** allHosts: the job's timer runs on every host; false: on the duty host only (src/plan/fleet.ts). */
  jobs: { name: string; command: string; at: string; jitterSec: number; timeoutSec: number; allHosts: boolean }[];
  /** The add-ons, by name, in name order (src/config/resolve.ts resolveAddons). */
  addons: ResolvedAddon[];
  /** Hosts that run add-ons and none of the environment's processes (a database server of their own). */
  addonOnlyHosts: HostAddress[];
  /** The TCP ports the host admits (setup's nftables policy), or null to leave the firewall alone. */
  firewall: { allow: number[] } | null;
  /** [[notify]] as written (checked by the schema and rules). */
  notify: NotifyConfig[];
  /** [hooks]: the commands given, by hook, and how long each may run. */
  hooks: { commands: Partial<Record<HookName, string>>; timeoutSec: number; remotePostDeploy?: string };
  /** [logs] drain: where every host sends the app's journal lines; null: nowhere. */
  logDrain: LogDrain | null;
  vars: Record<string, string>;
  secrets: Required<Pick<SecretsConfig, "store">> & SecretsConfig;
  /** persistSec: how long a connection stays open for the next command (ssh.persist); 0: not at all. */
  ssh: { identity?: string; knownHosts: string; jump?: string; hostKey: "strict" | "accept-new"; persistSec: number };
  keepReleases: number;
  /** `[serve]` with its defaults (the same in every environment). */
  serve: ResolvedServe;
  /** `[previews]` with its defaults (the same in every environment); null: no previews. */
  previews?: ResolvedPreviews | null;
  /** Set when this config is a preview's (src/plan/review-app.ts previewConfig). */
  preview?: PreviewIdentity;
}

/** `[previews]` resolved (src/config/resolve.ts resolvePreviews). */
export interface ResolvedPreviews {
  environment: string;
  /** The wildcard's suffix, without "*.": "preview.example.com". */
  domainSuffix: string;
  max: number;
  ttlSec: number;
  forks: boolean;
  seed: boolean;
  scrub: string | null;
}

/** Which preview a config deploys: its name (pr-7) and where its code came from. */
export interface PreviewIdentity {
  name: string;
  /** The app it previews (the served deploy.toml's app). */
  of: string;
  pr?: number;
  branch?: string;
}

/** Where qdeploy serve listens: a TCP address, or a unix socket (the installed server's). */
export type Listen = { host: string; port: number } | { unix: string };

/** `[serve]` resolved: src/config/resolve.ts resolveServe. */
export interface ResolvedServe {
  listen: Listen;
  domain: string | null;
  tls: "auto" | "internal";
  webhookSecret: string;
  remote: string;
  branches: Record<string, string>;
  /** The secret's name, or null: no commit statuses. */
  githubToken: string | null;
  githubApi: string;
}

/** One `[addons.NAME]` with its defaults: what provisioning, push and `addons` commands read. */
export interface ResolvedAddon {
  name: string;
  service: "postgres" | "redis";
  /** The label of the environment's host it runs on. */
  host: string;
  /** Its host's private address, where the environment's hosts reach it with TLS; null: loopback only. */
  address: string | null;
  /** The env var every release gets its URL in. */
  var: string;
  backup: { at: string; keep: number };
}
