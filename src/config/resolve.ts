/**
 * One environment of a validated deploy.toml, with every default filled in. Pure: no
 * files, no network. The rules in ./rules.ts check what this relies on; called on a
 * config that did not pass them, it throws ConfigError.
 */
import path from "node:path";
import { ConfigError, type ConfigProblem } from "../errors.ts";
import { parseDuration } from "../util/duration.ts";
import { isPort } from "./port.ts";
import { type LogDrain, parseDrain } from "./log-drain.ts";
import { type ResolvedResources, ResourceProblem, resolveResources } from "./resources.ts";
import { type EnvironmentConfig, HOOK_NAMES, type HostAddress, type Listen, type Overridable, type RawConfig, type ResolvedAddon, type ResolvedConfig, type ResolvedPreviews, type ResolvedServe } from "./types.ts";

/** Defaults that are not derived from other keys. */
export const DEFAULTS = {
  cgo: false,
  ldflags: "-s -w",
  stamp: { symbol: "main.version", value: "{git.sha}" },
  tls: "auto",
  drain: "30s",
  healthTimeout: "60s",
  standby: "15m",
  hookTimeout: "5m",
  store: "age",
  knownHosts: "~/.ssh/known_hosts",
  hostKey: "strict",
  sshPersist: "60s",
  keepReleases: 5,
  scale: 1,
  jobTimeout: "1h",
  firewallAllow: [22, 80, 443],
  releaseTimeout: "10m",
  rolloutPause: "0s",
  serveListen: "127.0.0.1:7070",
  webhookSecret: "WEBHOOK_SECRET",
  serveRemote: "origin",
  previewsMax: 5,
  previewsTtl: "5d",
} as const;

/** The Procfile / [processes] name of Heroku's release phase. */
export const RELEASE_PROCESS = "release";

/** Tables an environment replaces whole; every other table is merged one level deep. */
const REPLACED = new Set<keyof Overridable>(["processes", "jobs", "keep_releases", "release_timeout"]);

/**
 * The top-level tables with one environment's on top: for objects (web, build, ssh,
 * secrets, env, scale, restart) the environment's keys replace the top level's one by
 * one; processes, jobs and scalars are replaced whole. Arrays inside tables (web.domains,
 * build.tags) are values, so they are replaced too.
 */
export function mergeEnvironment(raw: RawConfig, envName: string | null): Overridable {
  const { app: _app, environments, ...top } = raw;
  const env = envName === null ? undefined : environments?.[envName];
  if (!env) return { ...top };
  const { hosts: _hosts, roles: _roles, ...over } = env;
  const merged: Record<string, unknown> = { ...top };
  for (const [key, value] of Object.entries(over)) {
    const base = merged[key];
    merged[key] =
      !REPLACED.has(key as keyof Overridable) && isTable(base) && isTable(value) ? { ...base, ...value } : value;
    // An add-on, a process's resources, is a table of tables: the environment's keys replace the top level's per name.
    if ((key === "addons" || key === "resources") && isTable(base) && isTable(value)) {
      merged[key] = Object.fromEntries(
        Object.keys({ ...base, ...value }).map((name) => {
          const [b, v]: unknown[] = [base[name], value[name]];
          return [name, isTable(b) && isTable(v) ? { ...b, ...v } : (v ?? b)];
        }),
      );
    }
  }
  return merged as Overridable;
}

/**
 * Parses `[user@]host[:port]` (IPv6 in brackets: `root@[2001:db8::1]:2222`); host may be a
 * Host alias of ~/.ssh/config. A user or port left out is not filled in here: the
 * connection takes it from ~/.ssh/config, else root and 22. Throws an Error saying what is wrong.
 */
export function parseHost(label: string): HostAddress {
  const m = /^(?:([A-Za-z0-9_][A-Za-z0-9._-]*)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(?::(\d+))?$/.exec(label);
  if (!m) throw new Error(`"${label}" is not [user@]host[:port]`);
  const addr: HostAddress = { host: m[2]!.replace(/^\[(.*)\]$/, "$1"), label };
  if (m[1] !== undefined) addr.user = m[1];
  if (m[3] !== undefined) {
    const port = Number(m[3]);
    if (!isPort(port)) throw new Error(`"${label}": port must be 1..65535`);
    addr.port = port;
  }
  return addr;
}

/** A problem naming the defined environments when envName is not one of them; null when it is. */
export function environmentProblem(raw: RawConfig, envName: string, file = "deploy.toml"): ConfigProblem | null {
  const names = Object.keys(raw.environments ?? {});
  if (names.includes(envName)) return null;
  return {
    file,
    path: "environments",
    message: names.length
      ? `no environment "${envName}"; defined: ${names.join(", ")}`
      : `no environment "${envName}"; add [environments.${envName}] with hosts`,
  };
}

/**
 * One environment with defaults filled in. `root` is the folder of deploy.toml. When the
 * web process is scaled to 0 (scale.web = 0), the environment runs no web process: web is
 * null and processes leaves it out.
 */
export function resolveEnvironment(raw: RawConfig, envName: string, root: string, file = "deploy.toml"): ResolvedConfig {
  const unknown = environmentProblem(raw, envName, file);
  if (unknown) throw new ConfigError([unknown]);
  const env = raw.environments![envName]!;
  const view = mergeEnvironment(raw, envName);
  const seconds = (value: string | undefined, fallback: string | number, key: string): number => {
    if (value === undefined) return typeof fallback === "number" ? fallback : parseDuration(fallback);
    try {
      return parseDuration(value);
    } catch (e) {
      throw new ConfigError([{ file, path: key, message: (e as Error).message }]);
    }
  };

  const scaleGiven = view.scale ?? {};
  const webOff = scaleGiven.web === 0;
  const processes: Record<string, string> = { ...(view.processes ?? {}) };
  if (webOff) delete processes.web;
  // Heroku's release phase is a step of the push, never a service.
  const releaseCommand = processes[RELEASE_PROCESS];
  delete processes[RELEASE_PROCESS];
  const scale: Record<string, number> = {};
  for (const name of Object.keys(processes)) {
    if (name !== "web") scale[name] = scaleGiven[name] ?? DEFAULTS.scale;
  }

  const w = view.web ?? {};
  const web: ResolvedConfig["web"] =
    processes.web === undefined
      ? null
      : {
          domains: w.domains ?? [],
          health: w.health ?? "/",
          tls: w.tls ?? DEFAULTS.tls,
          drainSec: seconds(w.drain, DEFAULTS.drain, "web.drain"),
          healthTimeoutSec: seconds(w.health_timeout, DEFAULTS.healthTimeout, "web.health_timeout"),
          standbySec: seconds(w.standby, DEFAULTS.standby, "web.standby"),
          watchdogSec: seconds(w.watchdog, 0, "web.watchdog"),
        };

  const b = view.build ?? {};
  const s = view.ssh ?? {};
  const store = view.secrets?.store ?? DEFAULTS.store;
  // The age store's file and recipients keep their defaults in the store: a missing default
  // file means "no secrets yet", a missing named one is an error.
  const secrets: ResolvedConfig["secrets"] = { ...view.secrets, store };

  return {
    app: raw.app,
    env: envName,
    root,
    hosts: environmentHosts(env, envName, file),
    roles: env.roles ? Object.fromEntries(Object.entries(env.roles).map(([role, labels]) => [role, [...labels]])) : null,
    rollout: {
      batch: parseBatch(view.rollout?.batch, file),
      pauseSec: seconds(view.rollout?.pause, DEFAULTS.rolloutPause, "rollout.pause"),
      ...(typeof view.rollout?.concurrency === "number" && { concurrency: view.rollout.concurrency }),
    },
    build: {
      dir: path.resolve(root, b.dir ?? "."),
      ...(b.main !== undefined && { main: b.main }),
      binary: b.binary ?? raw.app,
      ...(b.binary !== undefined && { binaryGiven: true }),
      cgo: b.cgo ?? DEFAULTS.cgo,
      ldflags: b.ldflags ?? DEFAULTS.ldflags,
      ...(b.ldflags !== undefined && { ldflagsGiven: true }),
      tags: b.tags ?? [],
      ...(b.tags !== undefined && { tagsGiven: true }),
      stamp: b.stamp ?? { ...DEFAULTS.stamp },
      ...(b.stamp !== undefined && { stampGiven: true }),
      ...(b.go !== undefined && { go: b.go }),
    },
    processes,
    release:
      releaseCommand === undefined
        ? null
        : { command: releaseCommand, timeoutSec: seconds(view.release_timeout, DEFAULTS.releaseTimeout, "release_timeout") },
    web,
    scale,
    resources: resolveProcessResources(view, Object.keys(processes), file),
    restart: view.restart
      ? { at: view.restart.at, jitterSec: seconds(view.restart.jitter, 0, "restart.jitter") }
      : null,
    jobs: (view.jobs ?? []).map((j, i) => ({
      name: j.name,
      command: j.command,
      at: j.at,
      jitterSec: seconds(j.jitter, 0, `jobs[${i}].jitter`),
      timeoutSec: seconds(j.timeout, DEFAULTS.jobTimeout, `jobs[${i}].timeout`),
      allHosts: j.hosts === "all",
    })),
    vars: { ...(view.env ?? {}) },
    secrets,
    ssh: {
      ...(s.identity !== undefined && { identity: s.identity }),
      knownHosts: s.known_hosts ?? DEFAULTS.knownHosts,
      ...(s.jump !== undefined && { jump: s.jump }),
      hostKey: s.host_key ?? DEFAULTS.hostKey,
      persistSec: seconds(s.persist, DEFAULTS.sshPersist, "ssh.persist"),
    },
    keepReleases: view.keep_releases ?? DEFAULTS.keepReleases,
    serve: resolveServe(raw, file),
    previews: resolvePreviews(raw, file),
    addons: resolveAddons(view, environmentHosts(env, envName, file)),
    addonOnlyHosts: addonOnlyHosts(view, environmentHosts(env, envName, file), file),
    firewall: view.firewall?.enabled === false ? null : { allow: [...new Set(view.firewall?.allow ?? DEFAULTS.firewallAllow)].sort((a, b) => a - b) },
    notify: view.notify ?? [],
    hooks: {
      commands: Object.fromEntries(HOOK_NAMES.flatMap((h) => (view.hooks?.[h] === undefined ? [] : [[h, view.hooks[h]]]))),
      timeoutSec: seconds(view.hooks?.timeout, DEFAULTS.hookTimeout, "hooks.timeout"),
      ...(view.hooks?.remote_post_deploy !== undefined && { remotePostDeploy: view.hooks.remote_post_deploy }),
    },
    logDrain: resolveDrain(view.logs?.drain, file),
  };
}

/** [logs] drain, parsed; "" or none: null. */
function resolveDrain(url: string | undefined, file: string): LogDrain | null {
  if (url === undefined || url === "") return null;
  const d = parseDrain(url);
  if ("problem" in d) throw new ConfigError([{ file, path: "logs.drain", message: d.problem }]);
  return d;
}

/** [resources.PROC] of the processes this environment runs (a process scaled out of it has none), as limits. */
function resolveProcessResources(view: Overridable, processes: string[], file: string): Record<string, ResolvedResources> {
  const out: Record<string, ResolvedResources> = {};
  for (const [proc, raw] of Object.entries(view.resources ?? {})) {
    if (!processes.includes(proc)) continue;
    try {
      out[proc] = resolveResources(raw);
    } catch (e) {
      if (!(e instanceof ResourceProblem)) throw e;
      throw new ConfigError([{ file, path: `resources.${proc}.${e.key}`, message: e.message }]);
    }
  }
  return out;
}

/** The variable each service's URL is in by default, as on Heroku. */
export const ADDON_VARS = { postgres: "DATABASE_URL", redis: "REDIS_URL" } as const;

/** `[addons]` with defaults, in name order. The host is the first one's label unless given (check: one of them). */
export function resolveAddons(view: Overridable, hosts: HostAddress[]): ResolvedAddon[] {
  return Object.entries(view.addons ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, a]) => ({
      name,
      // check requires it (src/config/rules.ts addonsValid).
      service: a.service!,
      host: a.host ?? hosts[0]!.label,
      address: a.address ?? null,
      var: a.var ?? ADDON_VARS[a.service!],
      backup: { at: a.backup?.at ?? "daily", keep: a.backup?.keep ?? 7 },
    }));
}

/** The add-ons' hosts that are none of the environment's, each once (check: [user@]host[:port]). */
function addonOnlyHosts(view: Overridable, hosts: HostAddress[], file: string): HostAddress[] {
  const out: HostAddress[] = [];
  for (const [name, a] of Object.entries(view.addons ?? {})) {
    if (a.host === undefined || hosts.some((h) => h.label === a.host) || out.some((h) => h.label === a.host)) continue;
    try {
      out.push(parseHost(a.host));
    } catch (e) {
      throw new ConfigError([{ file, path: `addons.${name}.host`, message: (e as Error).message }]);
    }
  }
  return out;
}

/**
 * The environment's hosts, each once (by label), in the order first written: `hosts` as
 * listed, or with roles role by role as written, each role's hosts in order.
 */
function environmentHosts(env: EnvironmentConfig, envName: string, file: string): HostAddress[] {
  const written = env.roles
    ? Object.entries(env.roles).flatMap(([role, labels]) => labels.map((label, i) => ({ label, key: `environments.${envName}.roles.${role}[${i}]` })))
    : (env.hosts ?? []).map((label, i) => ({ label, key: `environments.${envName}.hosts[${i}]` }));
  const seen = new Set<string>();
  const hosts: HostAddress[] = [];
  for (const { label, key } of written) {
    if (seen.has(label)) continue;
    seen.add(label);
    try {
      hosts.push(parseHost(label));
    } catch (e) {
      throw new ConfigError([{ file, path: key, message: (e as Error).message }]);
    }
  }
  return hosts;
}

/** rollout.batch: a count, or "N%" as { percent: N }; absent is null (canary, then the rest). */
export function parseBatch(batch: number | string | undefined, file = "deploy.toml"): ResolvedConfig["rollout"]["batch"] {
  if (batch === undefined) return null;
  const why = batchProblem(batch);
  if (why) throw new ConfigError([{ file, path: "rollout.batch", message: why }]);
  return typeof batch === "number" ? batch : { percent: Number(batch.slice(0, -1)) };
}

/** What is wrong with a rollout.batch value, or null: an integer >= 1, or "N%" with N in 1..100. */
export function batchProblem(batch: unknown): string | null {
  // A fraction is the schema's to report (not an integer).
  if (typeof batch === "number") return Number.isInteger(batch) && batch < 1 ? "must be at least 1 host per wave" : null;
  if (typeof batch !== "string") return null; // the schema reports other types
  const m = /^(\d+)%$/.exec(batch);
  if (!m) return `"${batch}" is neither a number of hosts nor a percentage; write e.g. 2 or "25%"`;
  const percent = Number(m[1]);
  return percent >= 1 && percent <= 100 ? null : `"${batch}": the percentage must be 1..100`;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** `[serve]` with its defaults; a bad listen address is a ConfigError (src/config/rules.ts serveValid reports it with its line). */
export function resolveServe(raw: RawConfig, file = "deploy.toml"): ResolvedServe {
  const s = raw.serve ?? {};
  const listen = parseListen(s.listen ?? DEFAULTS.serveListen);
  if (typeof listen === "string") throw new ConfigError([{ file, path: "serve.listen", message: listen }]);
  return {
    listen,
    domain: s.domain ?? null,
    tls: s.tls ?? "auto",
    webhookSecret: s.webhook_secret ?? DEFAULTS.webhookSecret,
    remote: s.remote ?? DEFAULTS.serveRemote,
    branches: { ...(s.branches ?? {}) },
    githubToken: s.github_token ?? null,
    githubApi: (s.github_api ?? "https://api.github.com").replace(/\/+$/, ""),
  };
}

/** `[previews]` with its defaults, or null without one (src/config/rules.ts previewsValid checks it with its lines). */
export function resolvePreviews(raw: RawConfig, file = "deploy.toml"): ResolvedPreviews | null {
  const p = raw.previews;
  if (!p) return null;
  let ttlSec: number;
  try {
    ttlSec = parseDuration(p.ttl ?? DEFAULTS.previewsTtl);
  } catch (e) {
    throw new ConfigError([{ file, path: "previews.ttl", message: (e as Error).message }]);
  }
  return { environment: p.environment, domainSuffix: p.domain.replace(/^\*\./, ""), max: p.max ?? DEFAULTS.previewsMax, ttlSec, forks: p.forks ?? false, seed: p.seed ?? false, scrub: p.scrub ?? null };
}

/** "host:port" ("[::1]:7070" for IPv6) as parts, "unix:/PATH" as its path, or what is wrong with it. */
export function parseListen(text: string): Listen | string {
  if (text.startsWith("unix:")) {
    const file = text.slice("unix:".length);
    return /^\/[A-Za-z0-9_.\/-]+$/.test(file) ? { unix: file } : `"${text}": a unix socket is unix:/ABSOLUTE/PATH`;
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !isPort(port)) return `"${text}" is not host:port (e.g. 127.0.0.1:7070) or unix:/PATH`;
  return { host: m[1] ?? m[2]!, port };
}
