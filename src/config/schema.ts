/**
 * The JSON Schema of deploy.toml: the one source of truth. ajv checks files against it,
 * editors complete and document keys from it (schema/deploy.schema.json, written by
 * scripts/write-schema.ts), and it is typed against RawConfig so the two cannot drift.
 *
 * ajv's JSONSchemaType wants `nullable: true` on every optional property; TOML has no
 * null, so it only widens what ajv accepts in theory, and editors ignore the keyword.
 */
import type { JSONSchemaType } from "ajv";
import type {
  AddonConfig,
  BuildConfig,
  EnvironmentConfig,
  FirewallConfig,
  HooksConfig,
  LogsConfig,
  JobConfig,
  NotifyConfig,
  Overridable,
  RawConfig,
  RestartConfig,
  RolloutConfig,
  SecretsConfig,
  PreviewsConfig,
  ServeConfig,
  SshConfig,
  WebConfig,
} from "./types.ts";
import { NOTIFY_EVENTS } from "./types.ts";
import { PORT_MAX, PORT_MIN } from "./port.ts";
import { DYNO_SIZES } from "./resources.ts";

/** The schema's `$id`: a URN, since the schema is shipped as a file, not served. */
export const SCHEMA_ID = "urn:qdeploy:deploy.schema.json";

/** `app` and job names: they name systemd units and directories. */
export const APP_PATTERN = "^[a-z][a-z0-9-]*$";
/** Process names (Procfile types). */
export const PROCESS_PATTERN = "^[a-z][a-z0-9_-]*$";
/**
 * build.binary: a plain file name (it becomes releases/ID/bin/BINARY, hard-linked as root),
 * so no "/", and no leading dot ("..", hidden files).
 */
export const BINARY_PATTERN = "^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$";
/** Names under `[environments]`. */
export const ENVIRONMENT_PATTERN = "^[a-z][a-z0-9_-]*$";
/** Add-on names: they name a unit, a folder, a Redis instance and part of a database's name. */
export const ADDON_PATTERN = "^[a-z][a-z0-9]*$";
/** Environment variable names. */
export const ENV_VAR_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$";

/** A Go release as build.go names it: go1.25, go1.25.3, go1.26rc1 ("go" may be left out). */
export const GO_VERSION_PATTERN = "^(go)?1\\.[0-9]+(\\.[0-9]+)?((rc|beta)[0-9]+)?$";

const DURATION = "systemd time span: 30s, 15m, 1h30m, 500ms; a plain number is seconds";
const CALENDAR = "systemd OnCalendar expression, e.g. \"hourly\" or \"Sun *-*-* 04:00:00\" (see `systemd-analyze calendar`)";

const stringList = (description: string) =>
  ({ type: "array", items: { type: "string" }, nullable: true, description }) as const;

const buildSchema: JSONSchemaType<BuildConfig> = {
  type: "object",
  description: "Local cross-compile of the Go binary; GOOS/GOARCH follow each host's `uname -m`.",
  additionalProperties: false,
  properties: {
    dir: {
      type: "string",
      nullable: true,
      description: "The Go module's folder (where go.mod is), relative to deploy.toml. Default: deploy.toml's folder.",
    },
    // ajv's JSONSchemaType cannot type a string-or-list property: the cast keeps the rest typed.
    main: {
      anyOf: [
        { type: "string", minLength: 1 },
        { type: "array", items: { type: "string", minLength: 1 }, minItems: 1 },
      ],
      description:
        "Packages to build (Heroku's install spec, GO_INSTALL_PACKAGE_SPEC): a pattern or a list, e.g. \"./cmd/...\" or [\"./cmd/web\", \"./cmd/worker\"]; each main package becomes bin/NAME. Default: GO_INSTALL_PACKAGE_SPEC, go.mod's `// +heroku install`, else \".\".",
    } as unknown as JSONSchemaType<BuildConfig>["properties"]["main"],
    binary: {
      type: "string",
      nullable: true,
      pattern: BINARY_PATTERN,
      maxLength: 64,
      description: "The executable's name (a plain file name), which process commands start with. Default: app.",
    },
    cgo: {
      type: "boolean",
      nullable: true,
      description:
        "CGO_ENABLED: true compiles C code with zig, still one static file. Default false; then `check` refuses packages with C code (e.g. mattn/go-sqlite3), unless cgo = false is written.",
    },
    ldflags: {
      type: "string",
      nullable: true,
      description: "Linker flags, added to -trimpath and the stamp. Default: the install spec's -ldflags (go.mod's `// +heroku install`, GO_INSTALL_PACKAGE_SPEC), else \"-s -w\".",
    },
    tags: stringList("Go build tags. Default: the install spec's -tags, else none."),
    go: {
      type: "string",
      nullable: true,
      pattern: GO_VERSION_PATTERN,
      description:
        "The Go to build with: \"go1.25\" (that line's newest release) or \"go1.25.3\" (exactly it), fetched when it is not the local Go. Unlike GOVERSION in [env], it never reaches the app's environment. Default: GOVERSION, go.mod's goVersion, toolchain or go line.",
    },
    stamp: {
      type: "object",
      nullable: true,
      description:
        "-X symbol=value stamped into the binary (GO_LINKER_SYMBOL/VALUE). Default { symbol = \"main.version\", value = \"{git.sha}\" }.",
      additionalProperties: false,
      required: ["symbol", "value"],
      properties: {
        symbol: { type: "string", description: "Fully qualified string variable, e.g. \"main.version\"." },
        value: { type: "string", description: "Its value; {git.sha} is replaced by the commit." },
      },
    },
  },
};

const webSchema: JSONSchemaType<WebConfig> = {
  type: "object",
  description: "The web process: gets $PORT, listens on loopback, sits behind Caddy.",
  additionalProperties: false,
  properties: {
    domains: stringList("Domains Caddy serves the app on (required when there is a web process)."),
    health: {
      type: "string",
      nullable: true,
      description: "Path that must answer 2xx before a release takes traffic, e.g. \"/healthz\" (required with a web process).",
    },
    tls: {
      type: "string",
      nullable: true,
      enum: ["auto", "internal", "off"],
      description: "auto: certificates from ACME; internal: Caddy's own CA; off: plain HTTP. Default \"auto\".",
    },
    drain: {
      type: "string",
      nullable: true,
      description: `How long a stopping instance may finish its requests after SIGTERM, before SIGKILL. A push or rollback does not wait for the old web slot's drain; the next one waits for the deploy lock until it ends. ${DURATION}. Default "30s".`,
    },
    health_timeout: {
      type: "string",
      nullable: true,
      description: `How long a new release may take to answer its health path. ${DURATION}. Default "60s".`,
    },
    standby: {
      type: "string",
      nullable: true,
      description: `How long the previous release's web slot keeps running after a push, out of traffic, so a rollback to it starts nothing (a warm standby); it is stopped within a minute after. ${DURATION}; "0" turns it off. Default "15m".`,
    },
    watchdog: {
      type: "string",
      nullable: true,
      description: `How long the live web slot may go without answering its health path before the host restarts it, with zero downtime, through the other slot (a timer looks every 10 s). ${DURATION}; at least "10s". Default "0": never.`,
    },
  },
};

const jitterSchema = {
  type: "string",
  nullable: true,
  description: `Random delay added to each run (RandomizedDelaySec). ${DURATION}. Default 0.`,
} as const;

const restartSchema: JSONSchemaType<RestartConfig> = {
  type: "object",
  description: "Scheduled zero-downtime restart, run by a systemd timer.",
  additionalProperties: false,
  required: ["at"],
  properties: {
    at: { type: "string", description: `When to restart: ${CALENDAR}.` },
    jitter: jitterSchema,
  },
};

const jobSchema: JSONSchemaType<JobConfig> = {
  type: "object",
  description: "A scheduled one-off command, run by a systemd timer.",
  additionalProperties: false,
  required: ["name", "command", "at"],
  properties: {
    name: {
      type: "string",
      pattern: APP_PATTERN,
      maxLength: 32,
      description: "Unique job name; names the unit APP-job-NAME.",
    },
    command: { type: "string", description: "Command line, run from the live release with the app's environment, as the app's user." },
    at: { type: "string", description: `When to run: ${CALENDAR}.` },
    jitter: jitterSchema,
    timeout: {
      type: "string",
      nullable: true,
      description: `Longest a run may take; then systemd stops it (SIGTERM, then SIGKILL), so a hung run cannot keep its timer from firing again (TimeoutStartSec). ${DURATION}. Default "1h".`,
    },
    hosts: {
      type: "string",
      nullable: true,
      enum: ["one", "all"],
      description: 'one: the timer runs on one host (the first of the worker role, else the first host), so a daily job runs once a day; all: on every host. Default "one".',
    },
  },
};

const notifySchema: JSONSchemaType<NotifyConfig> = {
  type: "object",
  description: "Where pushes and rollbacks are announced: started, succeeded, failed (with each host's line), and drift `status` found. Delivered in the background, retried 3 times with backoff, never failing or holding up a deploy (the command waits at most 15 s for them at its end).",
  additionalProperties: false,
  required: ["kind"],
  properties: {
    kind: { type: "string", enum: ["webhook", "slack", "email"], description: "webhook: POST of JSON, signed with HMAC-SHA256 like the deploy webhooks (X-Qdeploy-Signature-256: sha256=HEX); slack: a Slack-compatible incoming webhook ({\"text\": ...}); email: through this machine's sendmail." },
    url: { type: "string", nullable: true, pattern: "^https?://", description: "webhook, slack: where to POST." },
    url_secret: { type: "string", nullable: true, pattern: ENV_VAR_PATTERN, description: "webhook, slack: the name of a secret (in the environment's store) holding the URL, e.g. SLACK_WEBHOOK_URL; never printed." },
    secret: { type: "string", nullable: true, pattern: ENV_VAR_PATTERN, description: "webhook: the name of a secret whose value signs the body." },
    to: { type: "array", nullable: true, items: { type: "string", pattern: "^[^\\s@<>,]+@[^\\s@<>,]+$" }, minItems: 1, description: "email: the recipients." },
    events: { type: "array", nullable: true, items: { type: "string", enum: [...NOTIFY_EVENTS] }, minItems: 1, description: `The events it hears: ${NOTIFY_EVENTS.join(", ")}. Default: every one.` },
  },
};

const hooksSchema: JSONSchemaType<HooksConfig> = {
  type: "object",
  description: "Commands run on the deploying machine around a push or rollback, as Kamal's hooks: `bash -c` in deploy.toml's folder, with QDEPLOY_APP, _ENV, _ACTION, _RELEASE, _HOSTS, _WHO, _COMMIT, _OUTCOME and _ERROR. A failing pre_build or pre_deploy stops the deploy before any release is written; the others are reported and change nothing. `--no-hooks` skips them; `qdeploy serve` runs none.",
  additionalProperties: false,
  properties: {
    pre_build: { type: "string", nullable: true, minLength: 1, description: "Before the build (a red CI, a dirty tree): a non-zero exit stops the push." },
    pre_deploy: { type: "string", nullable: true, minLength: 1, description: "Once built and the hosts are locked, before any release is written: a non-zero exit stops the push." },
    post_deploy: { type: "string", nullable: true, minLength: 1, description: "After a push went live everywhere (warm a cache, tag a release, post to a channel)." },
    post_rollback: { type: "string", nullable: true, minLength: 1, description: "After a rollback went live everywhere." },
    on_failure: { type: "string", nullable: true, minLength: 1, description: "After a push or rollback failed (QDEPLOY_ERROR says why)." },
    remote_post_deploy: {
      type: "string",
      nullable: true,
      minLength: 1,
      description:
        "On every host of a push once it is live everywhere (warm that host's cache): run as the release phase runs, as the app's user in its sandbox, in the new release with its env file and QDEPLOY_RELEASE, at most `timeout`; its output shows as `hook remote_post_deploy | line`. A failure is reported and changes nothing. `--no-hooks` skips it; `qdeploy serve`'s pushes run it too (it runs where the app runs, as the app).",
    },
    timeout: { type: "string", nullable: true, description: `The longest a hook may run (then SIGTERM, SIGKILL 5 s later; a pre_* hook's deploy stops). ${DURATION}. Default "5m".` },
  },
  required: [],
};

const logsSchema: JSONSchemaType<LogsConfig> = {
  type: "object",
  description: "Where the app's logs go besides each host's journal, as Heroku's log drains: every host forwards its processes', jobs' and restarts' journal lines with Debian's rsyslog (installed on demand), as RFC 5424 syslog over TLS.",
  additionalProperties: false,
  properties: {
    drain: {
      type: "string",
      nullable: true,
      description: 'syslog+tls://HOST:PORT, the log service\'s syslog-over-TLS endpoint (RFC 5425; its certificate is checked against the host\'s CAs and HOST). "" sends nowhere (an environment turning the top level\'s drain off).',
    },
  },
  required: [],
};

const rolloutSchema: JSONSchemaType<RolloutConfig> = {
  type: "object",
  description: "How a push moves through the hosts: in waves, each switching only after the previous one is healthy.",
  additionalProperties: false,
  properties: {
    // An integer or a string (checked by src/config/rules.ts rolloutValid); the cast keeps the rest typed.
    batch: {
      anyOf: [{ type: "integer" }, { type: "string" }],
      description: 'Hosts per wave: a count (2) or a share of the hosts ("25%"). Default: one host first (a canary), then all the rest.',
    } as unknown as JSONSchemaType<RolloutConfig>["properties"]["batch"],
    pause: {
      type: "string",
      nullable: true,
      description: `Wait between waves. ${DURATION}. Default "0s".`,
    },
    concurrency: {
      type: "integer",
      nullable: true,
      minimum: 1,
      maximum: 1000,
      description: "Hosts a push, rollback or restart works on at once: SSH handshakes, taking the deploy lock and reading facts, writing the release (uploads included); the others wait their turn. Every connection and lock stays open for the whole push; a wave's hosts switch all at once. Default 32.",
    },
  },
};

const firewallSchema: JSONSchemaType<FirewallConfig> = {
  type: "object",
  description:
    "The host's inbound policy, an nftables table of its own (inet qdeploy) that setup installs and a unit restores at boot: only these TCP ports (and the SSH server's own) are reachable from outside; loopback and replies are always let through. The host's own rules are left as they are.",
  additionalProperties: false,
  properties: {
    enabled: { type: "boolean", nullable: true, description: "false: leave the host's firewall alone. Default true." },
    allow: {
      type: "array",
      nullable: true,
      items: { type: "integer", minimum: PORT_MIN, maximum: PORT_MAX },
      description: "TCP ports admitted from outside (443 admits UDP 443 too, for HTTP/3). Default [22, 80, 443]; the ports sshd listens on are always added.",
    },
  },
};

const addonSchema: JSONSchemaType<AddonConfig> = {
  type: "object",
  description:
    "An add-on qdeploy installs and wires on one of the environment's hosts, as Heroku's `addons:create`: Debian's package, one database and credentials per app and environment, its URL in every release's env file, a backup timer.",
  additionalProperties: false,
  required: [],
  properties: {
    service: {
      type: "string",
      nullable: true,
      enum: ["postgres", "redis"],
      description: "postgres: Debian's postgresql (a database and a role of its own); redis: Debian's redis-server (an instance of its own, with a password).",
    },
    host: {
      type: "string",
      nullable: true,
      description: "The host it runs on, as written in the environment's hosts. Default: the environment's first host.",
    },
    address: {
      type: "string",
      nullable: true,
      description:
        "The host's private address (an IP address) the environment's other hosts reach it at: the add-on listens there too, with TLS, and only the environment's hosts are admitted (firewall, and pg_hba.conf for Postgres). Required when the environment has more than one host; without it the add-on listens on loopback only.",
    },
    var: {
      type: "string",
      nullable: true,
      pattern: ENV_VAR_PATTERN,
      description: "The variable the app reads its URL from. Default DATABASE_URL (postgres), REDIS_URL (redis).",
    },
    backup: {
      type: "object",
      nullable: true,
      additionalProperties: false,
      description: "The backup timer (pg_dump -Fc, or Redis's RDB snapshot) into /var/backups/qdeploy/APP/NAME/.",
      properties: {
        at: { type: "string", nullable: true, description: `When: a ${CALENDAR}. Default "daily".` },
        keep: { type: "integer", nullable: true, minimum: 1, maximum: 1000, description: "How many backups to keep. Default 7." },
      },
      required: [],
    },
  },
};

const sshSchema: JSONSchemaType<SshConfig> = {
  type: "object",
  description: "How hosts are reached. The SSH agent is used when SSH_AUTH_SOCK is set.",
  additionalProperties: false,
  properties: {
    identity: { type: "string", nullable: true, description: "Private key file, relative to deploy.toml or ~/... Default: ~/.ssh/config's IdentityFile, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa." },
    known_hosts: {
      type: "string",
      nullable: true,
      description: "known_hosts file (OpenSSH format, hashed entries too). Default \"~/.ssh/known_hosts\".",
    },
    jump: { type: "string", nullable: true, description: "A bastion host, [user@]host[:port] (may be a ~/.ssh/config alias). Default: ~/.ssh/config's ProxyJump." },
    host_key: {
      type: "string",
      nullable: true,
      enum: ["strict", "accept-new"],
      description: "strict: the host must be in known_hosts; accept-new: record unknown hosts on first use. Default \"strict\".",
    },
    persist: {
      type: "string",
      nullable: true,
      description:
        "How long a command's SSH connection to a host stays open after it, for the next command to use (as OpenSSH's ControlPersist): a background process of yours keeps it, behind a socket only you can open. systemd time span: 30s, 5m; \"0\" turns it off. Default \"60s\".",
    },
  },
};

const secretsSchema: JSONSchemaType<SecretsConfig> = {
  type: "object",
  description: "Where secret values come from. They reach the hosts in env files (0600), never on a command line.",
  additionalProperties: false,
  properties: {
    store: {
      type: "string",
      nullable: true,
      enum: ["age", "env", "command"],
      description: "age: an encrypted file per environment in the repo; env: the local environment; command: a command's output. Default \"age\".",
    },
    names: stringList("store = \"env\": the variable names read from the local environment."),
    command: stringList("store = \"command\": an argv whose stdout is KEY=VALUE lines."),
    file: {
      type: "string",
      nullable: true,
      description: "store = \"age\": the encrypted file. Default \"secrets/ENV.env.age\".",
    },
    recipients: {
      type: "string",
      nullable: true,
      description: "store = \"age\": the recipients file. Default \"secrets/recipients.txt\".",
    },
  },
};

/** The tables that may appear at the top level and in every environment. */
const overridableProperties = {
  build: { ...buildSchema, nullable: true },
  processes: {
    type: "object",
    nullable: true,
    description: "Process types, as in a Procfile: name = command line. \"web\" is the one behind Caddy; \"release\" is the release phase, run once per push before the switch. Without this table ./Procfile is read.",
    propertyNames: { pattern: PROCESS_PATTERN, maxLength: 32 },
    additionalProperties: { type: "string", description: "Command line; the first word is usually the binary." },
    required: [],
  },
  web: { ...webSchema, nullable: true },
  scale: {
    type: "object",
    nullable: true,
    description: "Instances per host, by process name. Default 1; web is 0 or 1 (one live instance per host, blue/green).",
    propertyNames: { pattern: PROCESS_PATTERN, maxLength: 32 },
    additionalProperties: { type: "integer", minimum: 0, maximum: 100, description: "Instances per host." },
    required: [],
  },
  restart: { ...restartSchema, nullable: true },
  jobs: {
    type: "array",
    nullable: true,
    description: "Scheduled one-off commands ([[jobs]] tables).",
    items: jobSchema,
  },
  env: {
    type: "object",
    nullable: true,
    description: "Plain config variables, set in every process's environment. PORT and QDEPLOY_* are reserved.",
    additionalProperties: { type: "string", description: "The variable's value." },
    required: [],
  },
  secrets: { ...secretsSchema, nullable: true },
  ssh: { ...sshSchema, nullable: true },
  firewall: { ...firewallSchema, nullable: true },
  rollout: { ...rolloutSchema, nullable: true },
  hooks: { ...hooksSchema, nullable: true },
  logs: { ...logsSchema, nullable: true },
  notify: { type: "array", nullable: true, description: "Notification targets ([[notify]] tables).", items: notifySchema },
  addons: {
    type: "object",
    nullable: true,
    description: "Add-ons by name ([addons.db], [addons.cache]): Postgres and Redis on your own hosts, with DATABASE_URL / REDIS_URL in every release. An environment's [environments.NAME.addons.X] keys replace the top level's one by one.",
    propertyNames: { pattern: ADDON_PATTERN, maxLength: 16 },
    additionalProperties: addonSchema,
    required: [],
  },
  resources: {
    type: "object",
    nullable: true,
    description: "Limits by process name ([resources.web], [resources.worker]), on every instance of the process, as Heroku's dyno sizes: over its memory the process is killed and restarted, the others keep theirs. An environment's [environments.NAME.resources.PROC] keys replace the top level's one by one.",
    propertyNames: { pattern: PROCESS_PATTERN, maxLength: 32 },
    additionalProperties: {
      type: "object",
      description: "One process's limits. A size sets memory and CPU share; the keys given win over it.",
      additionalProperties: false,
      properties: {
        size: { type: "string", nullable: true, enum: Object.keys(DYNO_SIZES), description: `A Heroku dyno size: ${Object.entries(DYNO_SIZES).map(([n, d]) => `${n} (${d.memory})`).join(", ")}. standard-2x gets twice the CPU share of standard-1x, the performance sizes ten times.` },
        memory: { type: "string", nullable: true, description: 'Most memory per instance (MemoryMax, no swap; over it the process is killed and restarted; GOMEMLIMIT at 90 %), e.g. "512M", "1.5G": K, M, G, T in 1024s. At least 16M.' },
        cpu: { type: "number", nullable: true, exclusiveMinimum: 0, maximum: 1024, description: "Most CPUs per instance (CPUQuota), e.g. 0.5 or 2." },
        tasks: { type: "integer", nullable: true, minimum: 1, maximum: 4194304, description: "Most processes and threads per instance (TasksMax)." },
        nofile: { type: "integer", nullable: true, minimum: 1, maximum: 1048576, description: "Most open files per process (LimitNOFILE)." },
      },
      required: [],
    },
    required: [],
  },
  keep_releases: {
    type: "integer",
    nullable: true,
    minimum: 1,
    maximum: 100,
    description: "Releases kept on each host, the one being pushed counted; a live one is never pruned. The prune runs while the new release starts (it touches neither that one nor the live one), so a release that fails its health check counts as one. Default 5.",
  },
  release_timeout: {
    type: "string",
    nullable: true,
    description: 'Longest the release phase (Procfile "release:") may run before the push fails, e.g. "10m". Default "10m".',
  },
} as const;

const environmentSchema: JSONSchemaType<EnvironmentConfig> = {
  type: "object",
  description: "An environment: its hosts (hosts, or roles), and any table above to override for it.",
  additionalProperties: false,
  properties: {
    hosts: {
      type: "array",
      nullable: true,
      items: { type: "string", description: "[user@]host[:port]; host may be a Host alias of ~/.ssh/config" },
      description: "Servers to deploy to, each running every process, as [user@]host[:port]. What is left out comes from ~/.ssh/config, else root and 22. Give this or roles, not both.",
    },
    roles: {
      type: "object",
      nullable: true,
      description: "Servers per process (Kamal's roles): process name = hosts that run it, e.g. web = [\"deploy@a\"], worker = [\"deploy@b\"]. A host may be in several roles; Caddy is set up only on web hosts. Give this or hosts, not both.",
      propertyNames: { pattern: PROCESS_PATTERN, maxLength: 32 },
      additionalProperties: {
        type: "array",
        items: { type: "string", description: "[user@]host[:port]; host may be a Host alias of ~/.ssh/config" },
        description: "The hosts that run this process.",
      },
      required: [],
    },
    ...overridableProperties,
  },
};

const serveSchema: JSONSchemaType<ServeConfig> = {
  type: "object",
  description: "`qdeploy serve`: the web dashboard, the JSON API (/api/v1) and the deploy webhooks, for every environment of this file.",
  additionalProperties: false,
  properties: {
    listen: { type: "string", nullable: true, description: 'host:port to listen on. Default "127.0.0.1:7070"; anything but loopback without TLS in front prints a warning.' },
    domain: { type: "string", nullable: true, description: "`qdeploy serve --install ENV`: the domain at which the host's Caddy serves the dashboard, with TLS." },
    tls: { type: "string", nullable: true, enum: ["auto", "internal"], description: 'TLS for domain: auto (ACME) or internal (Caddy\'s own CA). Default "auto".' },
    webhook_secret: {
      type: "string",
      nullable: true,
      pattern: ENV_VAR_PATTERN,
      description: 'Name of the secret, in each environment\'s secret store, that signs webhook requests (X-Hub-Signature-256). It is left out of the app\'s env file. Default "WEBHOOK_SECRET".',
    },
    remote: { type: "string", nullable: true, description: 'The git remote a webhook deploy fetches its commit from. Default "origin".' },
    github_token: {
      type: "string",
      nullable: true,
      pattern: ENV_VAR_PATTERN,
      description: "Name of a secret, in the store of [previews] environment, holding a GitHub token (repo:status, or a fine-grained token with Commit statuses: write): each review app's commit then gets a status, qdeploy/preview, pending while it deploys, then success with its URL or failure. It is left out of the app's env file.",
    },
    github_api: { type: "string", nullable: true, pattern: "^https?://", description: 'GitHub\'s API, for github_token. Default "https://api.github.com"; GitHub Enterprise Server: "https://HOST/api/v3".' },
    branches: {
      type: "object",
      nullable: true,
      description: 'Git branch = the environment a push to it deploys (POST /hooks/github), e.g. main = "production".',
      additionalProperties: { type: "string", description: "An environment of this file." },
      required: [],
    },
  },
};

const previewsSchema: JSONSchemaType<PreviewsConfig> = {
  type: "object",
  description:
    "Review apps: each pull request (`qdeploy serve`'s pull_request webhook, or `qdeploy previews deploy`) runs as an app of its own, APP-pr-N, on one environment's hosts, at its own name under `domain`, with its own add-on databases (created empty), until the PR closes or `ttl` passes without a deploy.",
  additionalProperties: false,
  required: ["environment", "domain"],
  properties: {
    environment: { type: "string", description: "The environment whose hosts, secret store, env and add-on definitions every preview uses (a staging one)." },
    domain: { type: "string", description: 'A wildcard: "*.preview.example.com" gives the preview pr-7 the name pr-7.preview.example.com (point the wildcard\'s DNS at the environment\'s hosts). Caddy gets a certificate for each name as its preview is made, or uses its own CA with web.tls = "internal".' },
    max: { type: "integer", nullable: true, minimum: 1, maximum: 100, description: "How many previews may be alive at once; one more is refused, saying which are. Default 5." },
    ttl: { type: "string", nullable: true, description: `How long a preview lives after its last deploy; \`qdeploy serve\` destroys it then. ${DURATION}, or days: "5d". Default "5d".` },
    forks: { type: "boolean", nullable: true, description: "Build pull requests whose branch is in a fork (its code is anyone's). Default false." },
    production_hosts: { type: "boolean", nullable: true, description: "Allow previews on hosts of an environment named production or prod. Default false: such a setup is refused." },
    seed: { type: "boolean", nullable: true, description: "A new preview's Postgres databases start as a copy of the environment's newest backup of each (`qdeploy addons backup ENV NAME`, or its timer's), restored on the add-on's host before the release phase; Redis starts empty. Default false: empty databases." },
    scrub: { type: "string", nullable: true, description: "With seed: a command run once on a new preview, after its release phase and as it runs (the release's env, the app's user and sandbox), to scrub what a preview must not hold (e.g. `bin/scrub-pii`). A failure fails the preview's deploy." },
  },
};

/** The JSON Schema of deploy.toml, as ajv checks it and schema/deploy.schema.json ships it. */
export const deploySchema: JSONSchemaType<RawConfig> = {
  $schema: "http://json-schema.org/draft-07/schema#",
  $id: SCHEMA_ID,
  title: "qdeploy deploy.toml",
  description: "How qdeploy builds a Go app and runs it on your servers with systemd and Caddy.",
  type: "object",
  additionalProperties: false,
  required: ["app"],
  properties: {
    app: {
      type: "string",
      pattern: APP_PATTERN,
      maxLength: 32,
      description: "The app's name: lowercase letters, digits and -; names units and directories.",
    },
    ...overridableProperties,
    environments: {
      type: "object",
      nullable: true,
      description: "Environments by name ([environments.prod]); each overrides the tables above.",
      additionalProperties: environmentSchema,
      required: [],
    },
    serve: { ...serveSchema, nullable: true },
    previews: { ...previewsSchema, nullable: true },
  },
};

// Compile-time check that the shared part is also a valid schema for the Overridable type.
const _overridable: JSONSchemaType<Overridable> = {
  type: "object",
  properties: overridableProperties,
  required: [],
};
void _overridable;

/** schema/deploy.schema.json's exact text (and what `qdeploy init` writes beside deploy.toml). */
export function renderSchemaJson(): string {
  return `${JSON.stringify(deploySchema, null, 2)}\n`;
}
