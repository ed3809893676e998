/**
 * The semantic rules of deploy.toml: what the JSON Schema cannot say. One small named
 * function per rule, each returning every problem it finds. They run even when the
 * schema found problems (so one `qdeploy check` reports everything), so each rule skips
 * values of the wrong type: the schema has reported those already.
 *
 * Value checks look at each place a key is written (the top level and every
 * environment). Checks that depend on several tables (a web process needs web.domains)
 * look at each environment's merged view and point at the place the answer belongs.
 */
import { isIP } from "node:net";
import type { ConfigProblem } from "../errors.ts";
import { parseDuration } from "../util/duration.ts";
import { formatPath, lineOf, type KeyLines, type KeyPath } from "./locate.ts";
import { ADDON_VARS, batchProblem, mergeEnvironment, parseHost, parseListen, RELEASE_PROCESS } from "./resolve.ts";
import { ENVIRONMENT_PATTERN, ENV_VAR_PATTERN } from "./schema.ts";
import { ResourceProblem, resolveResources } from "./resources.ts";
import type { Overridable, RawConfig } from "./types.ts";
import { checkCommand } from "../render/command.ts";
import { envValueProblem } from "../render/env-value.ts";
import { HEALTH_PATH, isHostName } from "../render/web-values.ts";
import { WATCHDOG_INTERVAL_SEC } from "../server-layout.ts";

/** What rules know besides the config: where keys are, and what was checked outside. */
export interface RuleContext {
  /** deploy.toml's name as the user gave it. */
  file: string;
  lines: KeyLines;
  /**
   * Calendar expression -> systemd-analyze's complaint, or null when it is valid.
   * Expressions missing from the map were not checked (no systemd-analyze here).
   */
  calendars: Map<string, string | null>;
  /** Where raw.processes came from when it was read from a Procfile: its name and each process's line. */
  procfile?: { file: string; lines: Record<string, number> };
  /**
   * The names in a release's bin/ (build.main expanded: src/config/check-packages.ts).
   * Absent or null: the programs are not known here (no go, or a spec that did not expand,
   * which check reports), so a command's NAME or bin/NAME is not checked against them.
   */
  binaries?: string[] | null;
  /**
   * The app's files (the slug, paths relative to the app dir: "scripts/run.sh"). Absent or
   * null: not known here, so a command's relative path (other than bin/) is taken as one.
   */
  appFiles?: ReadonlySet<string> | null;
}

/** One semantic rule. */
export type Rule = (raw: RawConfig, ctx: RuleContext) => ConfigProblem[];

/** Names that processes' environments may not set: qdeploy sets them. */
export function reservedVar(name: string): boolean {
  return name === "PORT" || name.startsWith("QDEPLOY_");
}

// ---- the rules -------------------------------------------------------------------------

/** There is at least one environment to deploy to. */
export const environmentsDefined: Rule = (raw, ctx) =>
  Object.keys(table(raw.environments)).length === 0 && (raw.environments === undefined || isTable(raw.environments))
    ? [problem(ctx, ["environments"], 'none defined; add [environments.NAME] with hosts = ["user@host"]')]
    : [];

/** Environment names are lowercase words (they name secret files and appear on command lines). */
export const environmentNames: Rule = (raw, ctx) =>
  Object.keys(table(raw.environments))
    .filter((name) => !new RegExp(ENVIRONMENT_PATTERN).test(name))
    .map((name) =>
      problem(ctx, ["environments", name], `bad environment name; use lowercase letters, digits, - and _ (${ENVIRONMENT_PATTERN})`),
    );

/** An environment names its hosts one way: hosts (each runs every process) or roles (hosts per process). */
export const hostsOrRoles: Rule = (raw, ctx) =>
  Object.entries(environmentTables(raw)).flatMap(([name, env]) => {
    if (env.hosts !== undefined && env.roles !== undefined) {
      return [problem(ctx, ["environments", name, "roles"], "give hosts or roles, not both: hosts run every process, roles say which hosts run which process")];
    }
    if (env.hosts === undefined && env.roles === undefined) {
      return [problem(ctx, ["environments", name, "hosts"], `missing (required); or give hosts per process in [environments.${name}.roles]`)];
    }
    return [];
  });

/** Every host list (hosts, and each role's) is non-empty, each `[user@]host[:port]` (host may be a ~/.ssh/config alias), none twice. */
export const hostsValid: Rule = (raw, ctx) =>
  Object.entries(environmentTables(raw)).flatMap(([name, env]) => {
    const lists: [KeyPath, unknown][] = [
      [["environments", name, "hosts"], env.hosts],
      ...Object.entries(table(env.roles)).map(([role, hosts]): [KeyPath, unknown] => [["environments", name, "roles", role], hosts]),
    ];
    return lists.flatMap(([path, hosts]) => (Array.isArray(hosts) ? hostListProblems(ctx, path, hosts) : []));
  });

function hostListProblems(ctx: RuleContext, path: KeyPath, hosts: unknown[]): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  if (hosts.length === 0) out.push(problem(ctx, path, "no hosts; add at least one [user@]host[:port]"));
  const seen = new Set<string>();
  hosts.forEach((host, i) => {
    if (typeof host !== "string") return;
    try {
      parseHost(host);
    } catch (e) {
      out.push(problem(ctx, [...path, i], (e as Error).message));
    }
    if (seen.has(host)) out.push(problem(ctx, [...path, i], `"${host}" is listed twice`));
    seen.add(host);
  });
  return out;
}

/**
 * A role is a process of the environment (not the release phase, which runs on one host),
 * and every process the environment runs has a role, so nothing is left unplaced.
 */
export const rolesValid: Rule = (raw, ctx) =>
  Object.entries(environmentTables(raw)).flatMap(([name, env]) => {
    if (!isTable(env.roles)) return [];
    const view = mergeEnvironment(raw, name);
    if (!isTable(view.processes)) return []; // processesDefined reports it
    const processes = Object.keys(view.processes).filter(
      (proc) => proc !== RELEASE_PROCESS && !(proc === "web" && table(view.scale).web === 0),
    );
    const roles = Object.keys(env.roles);
    const out: ConfigProblem[] = [];
    for (const role of roles) {
      if (role === RELEASE_PROCESS) {
        out.push(problem(ctx, ["environments", name, "roles", role], `"${role}" is the release phase, run once per push on one host: it is not a role`));
      } else if (!processes.includes(role)) {
        out.push(problem(ctx, ["environments", name, "roles", role], `no process "${role}"${processes.length ? `; processes: ${processes.join(", ")}` : ""}`));
      }
    }
    for (const proc of processes.filter((p) => !roles.includes(p))) {
      out.push(problem(ctx, ["environments", name, "roles"], `process "${proc}" runs on no host; add ${proc} = ["user@host"]`));
    }
    return out;
  });

/** rollout.batch is hosts per wave (an integer >= 1) or "N%" (1..100); rollout.pause is a time span. */
export const rolloutValid: Rule = (raw, ctx) =>
  places(raw).flatMap(({ prefix, tables }) => {
    const rollout = table(tables.rollout);
    const out: ConfigProblem[] = [];
    const why = batchProblem(rollout.batch);
    if (why) out.push(problem(ctx, [...prefix, "rollout", "batch"], why));
    if (typeof rollout.pause === "string") {
      try {
        parseDuration(rollout.pause);
      } catch (e) {
        out.push(problem(ctx, [...prefix, "rollout", "pause"], (e as Error).message));
      }
    }
    return out;
  });

/** There is something to run: a [processes] table or a Procfile. */
export const processesDefined: Rule = (raw, ctx) =>
  perEnvironment(raw, ctx, (view) =>
    view.processes === undefined || (isTable(view.processes) && Object.keys(view.processes).length === 0)
      ? [{ path: ["processes"], message: 'none defined; add [processes] (e.g. web = "APP serve") or a Procfile beside deploy.toml' }]
      : [],
  );

/** Process commands are not empty. */
export const processCommands: Rule = (raw, ctx) =>
  places(raw).flatMap(({ prefix, tables }) =>
    Object.entries(table(tables.processes))
      .filter(([, command]) => typeof command === "string" && command.trim() === "")
      .map(([name]) => problem(ctx, [...prefix, "processes", name], "empty command")),
  );

/** A running web process needs domains and a health path. */
export const webNeedsDomainsAndHealth: Rule = (raw, ctx) =>
  perEnvironment(raw, ctx, (view) => {
    if (!webRuns(view)) return [];
    const web = table(view.web);
    const found: Finding[] = [];
    if (web.domains === undefined || (Array.isArray(web.domains) && web.domains.length === 0)) {
      found.push({ path: ["web", "domains"], cause: ["processes", "web"], message: 'required with a web process: the domains Caddy serves, e.g. ["app.example.com"]' });
    }
    if (web.health === undefined) {
      found.push({ path: ["web", "health"], cause: ["processes", "web"], message: 'required with a web process: a path that answers 2xx, e.g. "/healthz"' });
    }
    return found;
  });

/** A [web] table with no web process anywhere it applies is a mistake (a typo'd process name, say). */
export const webTableNeedsWebProcess: Rule = (raw, ctx) => {
  const out: ConfigProblem[] = [];
  const envs = Object.keys(environmentTables(raw));
  const hasWeb = (env: string | null) => "web" in table(mergeEnvironment(raw, env).processes);
  const noWebProcess = 'there is no web process; add processes.web (or Procfile "web:") or remove this table';
  if (raw.web !== undefined && !hasWeb(null) && envs.every((env) => !hasWeb(env))) {
    out.push(problem(ctx, ["web"], noWebProcess));
  }
  for (const [name, env] of Object.entries(environmentTables(raw))) {
    if (env.web !== undefined && !hasWeb(name)) out.push(problem(ctx, ["environments", name, "web"], noWebProcess));
  }
  return out;
};

/** web.health is a path; domains are bare host names. */
export const webValues: Rule = (raw, ctx) =>
  places(raw).flatMap(({ prefix, tables }) => {
    const web = table(tables.web);
    const out: ConfigProblem[] = [];
    if (typeof web.health === "string" && !web.health.startsWith("/")) {
      out.push(problem(ctx, [...prefix, "web", "health"], `must start with "/", e.g. "/healthz"`));
    } else if (typeof web.health === "string" && !HEALTH_PATH.test(web.health)) {
      // It is written into the probe's request line (server/switch.sh probe_to).
      out.push(problem(ctx, [...prefix, "web", "health"], 'must be a plain URL path (letters, digits and ._~/%?=&+-; no spaces or quotes), e.g. "/healthz"'));
    }
    if (Array.isArray(web.domains)) {
      web.domains.forEach((d, i) => {
        if (typeof d === "string" && !isHostName(d)) {
          out.push(problem(ctx, [...prefix, "web", "domains", i], `"${d}" is not a host name (no scheme, port or path)`));
        }
      });
    }
    return out;
  });

/** Every [scale] key names a process. */
export const scaleNamesProcess: Rule = (raw, ctx) =>
  perEnvironment(raw, ctx, (view) => {
    const declared = Object.keys(table(view.processes));
    const processes = declared.filter((name) => name !== RELEASE_PROCESS);
    return Object.keys(table(view.scale))
      .filter((name) => !processes.includes(name))
      .map((name) => ({
        path: ["scale", name],
        message: declared.includes(name) && name === RELEASE_PROCESS
          ? `"${name}" is the release phase, run once per push: it is not scaled`
          : `no process "${name}"${processes.length ? `; processes: ${processes.join(", ")}` : ""}`,
      }));
  });

/** [resources.PROC] names a process the environment declares (not the release phase, which runs once per push). */
export const resourcesNameProcess: Rule = (raw, ctx) =>
  perEnvironment(raw, ctx, (view) => {
    const processes = Object.keys(table(view.processes)).filter((name) => name !== RELEASE_PROCESS);
    return Object.keys(table(view.resources))
      .filter((name) => !processes.includes(name))
      .map((name) => ({ path: ["resources", name], message: `no process "${name}"${processes.length ? `; processes: ${processes.join(", ")}` : ""}` }));
  });

/** Each [resources.PROC] table reads as limits (a known size, an amount of memory), where it is written. */
export const resourcesValues: Rule = (raw, ctx) =>
  places(raw).flatMap(({ prefix, tables }) =>
    Object.entries(table(tables.resources)).flatMap(([proc, r]) => {
      const raw = table(r);
      try {
        // The schema has reported values of the wrong type; only what it cannot say is looked at here.
        resolveResources({ ...(typeof raw.size === "string" && { size: raw.size }), ...(typeof raw.memory === "string" && { memory: raw.memory }) });
        return [];
      } catch (e) {
        if (!(e instanceof ResourceProblem)) throw e;
        // An unknown size is the schema's (enum) to report.
        return e.key === "size" ? [] : [problem(ctx, [...prefix, "resources", proc, e.key], e.message)];
      }
    }),
  );

/** Each [[notify]] target has what its kind needs: a URL (or its secret's name) for webhook and slack, recipients for email. */
export const notifyTargets: Rule = (raw, ctx) =>
  places(raw).flatMap(({ prefix, tables }) =>
    (Array.isArray(tables.notify) ? tables.notify.map(table) : []).flatMap((t, i) => {
      const at = (key: string) => [...prefix, "notify", i, key];
      const has = (key: string) => t[key] !== undefined;
      if (t.kind === "email") {
        return [
          ...(has("to") ? [] : [problem(ctx, at("to"), 'email needs to = ["someone@example.com"]', [...prefix, "notify", i])]),
          ...["url", "url_secret", "secret"].filter(has).map((k) => problem(ctx, at(k), "an email target has no URL or signing secret")),
        ];
      }
      if (t.kind !== "webhook" && t.kind !== "slack") return [];
      return [
        ...(has("url") === has("url_secret") ? [problem(ctx, at("url"), `${t.kind} needs url or url_secret (one of the two)`, [...prefix, "notify", i])] : []),
        ...(has("to") ? [problem(ctx, at("to"), `a ${t.kind} target has no recipients`)] : []),
        ...(t.kind === "slack" && has("secret") ? [problem(ctx, at("secret"), "a Slack webhook is not signed: its URL is the secret (url_secret)")] : []),
      ];
    }),
  );

/** The web process runs one live instance per host (blue/green), so scale.web is 0 or 1. */
export const scaleWeb: Rule = (raw, ctx) =>
  places(raw).flatMap(({ prefix, tables }) => {
    const web = table(tables.scale).web;
    return typeof web === "number" && web !== 0 && web !== 1
      ? [problem(ctx, [...prefix, "scale", "web"], "must be 0 or 1: web runs one live instance per host (blue/green)")]
      : [];
  });

/** Job names are unique in their list (they name timers); commands are not empty. */
export const jobsValid: Rule = (raw, ctx) =>
  places(raw).flatMap(({ prefix, tables }) => {
    const out: ConfigProblem[] = [];
    const seen = new Map<string, number>();
    jobList(tables).forEach((job, i) => {
      if (typeof job.command === "string" && job.command.trim() === "") {
        out.push(problem(ctx, [...prefix, "jobs", i, "command"], "empty command"));
      }
      if (typeof job.name !== "string") return;
      const first = seen.get(job.name);
      if (first !== undefined) {
        out.push(problem(ctx, [...prefix, "jobs", i, "name"], `"${job.name}" is already the name of jobs[${first}]`));
      } else seen.set(job.name, i);
    });
    return out;
  });

/**
 * drain, health_timeout, standby, watchdog, jitter, ssh.persist, a job's timeout and release_timeout are
 * systemd time spans; a timeout is more than 0; a watchdog 0 or at least its timer's 10 s.
 */
export const durationsValid: Rule = (raw, ctx) =>
  places(raw).flatMap(({ prefix, tables }) => {
    const spans: [KeyPath, unknown][] = [
      [["web", "drain"], table(tables.web).drain],
      [["web", "health_timeout"], table(tables.web).health_timeout],
      [["web", "standby"], table(tables.web).standby],
      [["web", "watchdog"], table(tables.web).watchdog],
      [["restart", "jitter"], table(tables.restart).jitter],
      [["release_timeout"], tables.release_timeout],
      [["hooks", "timeout"], table(tables.hooks).timeout],
      [["ssh", "persist"], table(tables.ssh).persist],
      ...jobList(tables).flatMap((job, i): [KeyPath, unknown][] => [
        [["jobs", i, "jitter"], job.jitter],
        [["jobs", i, "timeout"], job.timeout],
      ]),
    ];
    return spans.flatMap(([path, value]) => {
      if (typeof value !== "string") return [];
      try {
        // TimeoutStartSec=0 means "no timeout": the opposite of what the key asks for.
        if ((path.at(-1) === "timeout" || path.at(-1) === "release_timeout") && parseDuration(value) === 0) {
          return [problem(ctx, [...prefix, ...path], "must be more than 0 (0 would mean no timeout at all)")];
        }
        const sec = parseDuration(value);
        if (path.at(-1) === "watchdog" && sec > 0 && sec < WATCHDOG_INTERVAL_SEC) {
          return [problem(ctx, [...prefix, ...path], `must be "0" or at least ${WATCHDOG_INTERVAL_SEC}s: its timer looks every ${WATCHDOG_INTERVAL_SEC} s`)];
        }
        return [];
      } catch (e) {
        return [problem(ctx, [...prefix, ...path], (e as Error).message)];
      }
    });
  });

/** restart.at and jobs' `at` are calendar expressions systemd accepts. */
export const calendarsValid: Rule = (raw, ctx) =>
  places(raw).flatMap(({ prefix, tables }) =>
    calendarKeys(tables).flatMap(([path, expr]) => {
      const complaint =
        expr.trim() === ""
          ? "empty calendar expression"
          : /[\x00-\x1f\x7f]/.test(expr)
            ? "must be one line without control characters"
            : ctx.calendars.get(expr);
      return complaint ? [problem(ctx, [...prefix, ...path], complaint)] : [];
    }),
  );

/** Environment variable names are valid, and PORT and QDEPLOY_* stay qdeploy's. */
export const envVarNames: Rule = (raw, ctx) =>
  places(raw).flatMap(({ prefix, tables }) => {
    const names: [KeyPath, string][] = [
      ...Object.keys(table(tables.env)).map((n): [KeyPath, string] => [["env", n], n]),
      ...(Array.isArray(table(tables.secrets).names) ? (table(tables.secrets).names as unknown[]) : []).flatMap(
        (n, i): [KeyPath, string][] => (typeof n === "string" ? [[["secrets", "names", i], n]] : []),
      ),
    ];
    return names.flatMap(([path, name]) => {
      if (!new RegExp(ENV_VAR_PATTERN).test(name)) {
        return [problem(ctx, [...prefix, ...path], `"${name}" is not a valid variable name (${ENV_VAR_PATTERN})`)];
      }
      if (reservedVar(name)) return [problem(ctx, [...prefix, ...path], `"${name}" is reserved: qdeploy sets PORT and QDEPLOY_*`)];
      return [];
    });
  });

/** `[user@]host[:port]`, as hosts are written. */
function isHostLabel(s: string): boolean {
  try {
    parseHost(s);
    return true;
  } catch {
    return false;
  }
}

/** An IPv4 or IPv6 address, not loopback (the other hosts reach an add-on there). */
function isReachableIp(s: string): boolean {
  return isIP(s) !== 0 && !/^127\./.test(s) && s !== "::1";
}

/**
 * Add-ons: each on a host of the environment, its variable the app's alone. In an environment
 * of several hosts the others reach it at its host's private address, which must be given.
 */
export const addonsValid: Rule = (raw, ctx) => {
  const found = Object.entries(environmentTables(raw)).flatMap(([name, env]) => {
    const view = mergeEnvironment(raw, name);
    const addons = Object.entries(table(view.addons)).filter(([, a]) => isTable(a)) as [string, Record<string, unknown>][];
    const hosts = writtenHosts(env);
    // Reported where the add-on's key is written: the environment's table, else the top level's.
    const at = (addon: string, key: string): KeyPath => {
      const own = get(env, ["addons", addon, key]) !== undefined || (get(env, ["addons", addon]) !== undefined && get(raw, ["addons", addon, key]) === undefined);
      return own ? ["environments", name, "addons", addon, key] : ["addons", addon, key];
    };
    const out: ConfigProblem[] = [];
    const seen = new Map<string, string>();
    for (const [addon, a] of addons) {
      if (a.service === undefined) {
        const where: KeyPath = get(raw, ["addons", addon]) !== undefined ? ["addons", addon] : ["environments", name, "addons", addon];
        out.push(problem(ctx, where, 'missing service (required): "postgres" or "redis"'));
        continue;
      }
      const service = a.service === "postgres" || a.service === "redis" ? a.service : null;
      if (service === null) continue;
      // A host of its own (a database server that runs none of the app's processes) is
      // reached by all of the environment's hosts: it needs an address, like a fleet's.
      const own = typeof a.host === "string" && !hosts.includes(a.host);
      if (own && !isHostLabel(String(a.host))) {
        out.push(problem(ctx, at(addon, "host"), `"${a.host}" is not [user@]host[:port]`));
      } else if (a.address !== undefined && !isReachableIp(String(a.address))) {
        out.push(problem(ctx, at(addon, "address"), `"${a.address}" is not an IP address other hosts can reach: write the private address the other hosts reach ${typeof a.host === "string" ? a.host : hosts[0] ?? "its host"} at, e.g. "10.0.0.5"`));
      } else if (own && a.address === undefined) {
        out.push(problem(ctx, at(addon, "host"), `"${a.host}" is not a host of ${name} (${hosts.join(", ") || "none"}): on a host of its own, the add-on needs the address ${name}'s hosts reach it at (address = "10.0.0.5", its private network's)`));
      } else if (hosts.length > 1 && a.address === undefined) {
        out.push(problem(ctx, at(addon, "service"), `${name} has ${hosts.length} hosts: give the add-on the address its host is reached at from the others (address = "10.0.0.5", its private network's), where it listens with TLS for them alone`, ["addons", addon]));
      }
      const v = typeof a.var === "string" ? a.var : ADDON_VARS[service];
      if (reservedVar(v)) out.push(problem(ctx, at(addon, "var"), `"${v}" is reserved: qdeploy sets PORT and QDEPLOY_*`));
      if (table(view.env)[v] !== undefined) out.push(problem(ctx, at(addon, "var"), `${v} is also set in [env]: the add-on sets it (give the add-on another var, or drop env.${v})`));
      const other = seen.get(v);
      if (other !== undefined) out.push(problem(ctx, at(addon, "var"), `${v} is add-on ${other}'s variable too: give one of them another var`));
      seen.set(v, addon);
    }
    return out;
  });
  // A top-level add-on's problem is found in each environment: reported once.
  return [...new Map(found.map((p) => [JSON.stringify(p), p])).values()];
};

/** [env] values are what systemd can read from an env file. */
export const envVarValues: Rule = (raw, ctx) =>
  places(raw).flatMap(({ prefix, tables }) =>
    Object.entries(table(tables.env)).flatMap(([name, value]) => {
      const why = typeof value === "string" ? envValueProblem(value) : null;
      return why ? [problem(ctx, [...prefix, "env", name], why)] : [];
    }),
  );

/**
 * Every command (processes, the release phase, jobs, the remote hook) renders (src/render/command.ts): a plain
 * line, or a bash line whose every command's first word is, as a plain line's, a binary of
 * the release (NAME, bin/NAME or ./bin/NAME), a file of the app, an absolute path or a
 * command on PATH. Checked in each environment's view, with the binaries it builds, and
 * reported where the command is written (the Procfile's line when it came from there).
 */
export const commandsValid: Rule = (raw, ctx) => {
  const envs = Object.entries(environmentTables(raw));
  const out: ConfigProblem[] = [];
  const binaries = ctx.binaries ?? null;
  const appFiles = ctx.appFiles ?? null;
  for (const [name, env] of envs.length ? envs : [[null, {}] as const]) {
    const view = mergeEnvironment(raw, name);
    const why = (command: unknown): string | null => {
      if (typeof command !== "string" || command.trim() === "") return null; // the schema and processCommands report these
      try {
        checkCommand(command, binaries, "", appFiles);
        return null;
      } catch (e) {
        return (e as Error).message;
      }
    };
    const ownProcesses = name !== null && env.processes !== undefined;
    for (const [proc, command] of Object.entries(table(view.processes))) {
      const message = why(command);
      if (message === null) continue;
      if (ownProcesses) out.push(problem(ctx, ["environments", name, "processes", proc], message));
      else if (ctx.procfile) {
        const line = ctx.procfile.lines[proc];
        out.push({ file: ctx.procfile.file, ...(line !== undefined && { line }), path: proc, message });
      } else out.push(problem(ctx, ["processes", proc], message));
    }
    const jobsPrefix: KeyPath = name !== null && env.jobs !== undefined ? ["environments", name] : [];
    jobList(view as Record<string, unknown>).forEach((job, i) => {
      const message = why(job.command);
      if (message !== null) out.push(problem(ctx, [...jobsPrefix, "jobs", i, "command"], message));
    });
    // [hooks] remote_post_deploy runs on the hosts the release phase's way: the same words.
    const hook = table(view.hooks).remote_post_deploy;
    const hookMessage = why(hook);
    if (hookMessage !== null) out.push(problem(ctx, [...(name !== null && table(env.hooks).remote_post_deploy !== undefined ? ["environments", name] : []), "hooks", "remote_post_deploy"], hookMessage));
  }
  return out;
};

/** secrets.store "env" needs names; "command" needs command. */
export const secretsStore: Rule = (raw, ctx) =>
  perEnvironment(raw, ctx, (view) => {
    const s = table(view.secrets);
    const empty = (v: unknown) => v === undefined || (Array.isArray(v) && v.length === 0);
    if (s.store === "env" && empty(s.names)) {
      return [{ path: ["secrets", "names"], cause: ["secrets", "store"], message: 'required with store = "env": the variable names to read, e.g. ["DATABASE_URL"]' }];
    }
    if (s.store === "command" && empty(s.command)) {
      return [{ path: ["secrets", "command"], cause: ["secrets", "store"], message: 'required with store = "command": an argv printing KEY=VALUE lines' }];
    }
    return [];
  });

/** ssh.jump is a host like the others. (identity and known_hosts are checked when connecting.) */
export const sshJump: Rule = (raw, ctx) =>
  places(raw).flatMap(({ prefix, tables }) => {
    const jump = table(tables.ssh).jump;
    if (typeof jump !== "string") return [];
    try {
      parseHost(jump);
      return [];
    } catch (e) {
      return [problem(ctx, [...prefix, "ssh", "jump"], (e as Error).message)];
    }
  });

/** `[serve]`: listen is host:port; domain a host name; each branch names an environment of this file. */
export const serveValid: Rule = (raw, ctx) => {
  const serve = table(raw.serve);
  const problems: ConfigProblem[] = [];
  if (typeof serve.listen === "string") {
    const why = parseListen(serve.listen);
    if (typeof why === "string") problems.push(problem(ctx, ["serve", "listen"], why));
  }
  // The domain becomes a Caddy site address (`serve --install`): a bare host name, no port.
  if (typeof serve.domain === "string" && !isHostName(serve.domain, false)) {
    problems.push(problem(ctx, ["serve", "domain"], `${JSON.stringify(serve.domain)} is not a host name (e.g. deploy.example.com)`));
  }
  const envs = Object.keys(table(raw.environments));
  for (const [branch, env] of Object.entries(table(serve.branches))) {
    if (typeof env === "string" && !envs.includes(env)) {
      problems.push(problem(ctx, ["serve", "branches", branch], `"${env}" is not an environment of this file (${envs.join(", ") || "none"})`));
    }
  }
  return problems;
};

/** Environments whose hosts previews stay off unless previews.production_hosts (by their name, as Heroku's pipelines name them). */
export const PRODUCTION_ENVIRONMENTS = ["production", "prod"];

/**
 * `[previews]`: its environment is one of this file's, and neither it nor a host of it is
 * production's (unless production_hosts); ttl is a duration of at least a minute.
 */
export const previewsValid: Rule = (raw, ctx) => {
  const previews = table(raw.previews);
  const problems: ConfigProblem[] = [];
  const envs = environmentTables(raw);
  const target = previews.environment;
  if (typeof target === "string") {
    if (!Object.hasOwn(envs, target)) {
      problems.push(problem(ctx, ["previews", "environment"], `"${target}" is not an environment of this file (${Object.keys(envs).join(", ") || "none"})`));
    } else if (previews.production_hosts !== true) {
      const mine = new Set(writtenHosts(envs[target]!));
      for (const prod of PRODUCTION_ENVIRONMENTS.filter((e) => Object.hasOwn(envs, e))) {
        const shared = writtenHosts(envs[prod]!).filter((h) => mine.has(h));
        if (prod !== target && !shared.length) continue;
        const why = prod === target ? `is ${prod} itself` : `shares ${shared.join(", ")} with ${prod}`;
        problems.push(problem(ctx, ["previews", "environment"], `"${target}" ${why}: previews run code nobody has reviewed yet; give them a staging environment's hosts, or set previews.production_hosts = true`));
      }
    }
  }
  // Each preview's name goes in front of it as a Caddy site address: a host name after "*.".
  if (typeof previews.domain === "string" && !(previews.domain.startsWith("*.") && isHostName(previews.domain.slice(2), false) && previews.domain.slice(2).includes("."))) {
    problems.push(problem(ctx, ["previews", "domain"], `${JSON.stringify(previews.domain)} is not a wildcard domain: write "*.preview.example.com", each preview gets a name under it`));
  }
  if (typeof previews.scrub === "string" && previews.seed !== true) {
    problems.push(problem(ctx, ["previews", "scrub"], "scrub runs on a seeded preview's data: set previews.seed = true, or drop scrub"));
  }
  if (typeof previews.ttl === "string") {
    try {
      if (parseDuration(previews.ttl) < 60) problems.push(problem(ctx, ["previews", "ttl"], `${JSON.stringify(previews.ttl)} is under a minute`));
    } catch (e) {
      problems.push(problem(ctx, ["previews", "ttl"], (e as Error).message));
    }
  }
  return problems;
};

/** Every rule, in the order their problems are reported (load.ts sorts by line anyway). */
export const RULES: Rule[] = [
  environmentsDefined,
  environmentNames,
  hostsOrRoles,
  hostsValid,
  rolesValid,
  rolloutValid,
  processesDefined,
  processCommands,
  webNeedsDomainsAndHealth,
  webTableNeedsWebProcess,
  webValues,
  scaleNamesProcess,
  scaleWeb,
  resourcesNameProcess,
  resourcesValues,
  notifyTargets,
  jobsValid,
  durationsValid,
  calendarsValid,
  envVarNames,
  envVarValues,
  addonsValid,
  commandsValid,
  secretsStore,
  sshJump,
  serveValid,
  previewsValid,
];

/** Runs every rule. */
export function checkRules(raw: RawConfig, ctx: RuleContext): ConfigProblem[] {
  return RULES.flatMap((rule) => rule(raw, ctx));
}

/** The distinct calendar expressions in the config, for load.ts to have systemd check. */
export function calendarExpressions(raw: RawConfig): string[] {
  const all = places(raw).flatMap(({ tables }) => calendarKeys(tables).map(([, expr]) => expr));
  return [...new Set(all.filter((e) => e.trim() !== ""))];
}

// ---- helpers ---------------------------------------------------------------------------

interface Finding {
  path: KeyPath;
  message: string;
  /** The key whose value makes `path` required: an environment that sets it owns the finding. */
  cause?: KeyPath;
}

/** A problem at path, on its line (else its table's, else the line of `fallback`, the key that caused it). */
function problem(ctx: RuleContext, path: KeyPath, message: string, fallback?: KeyPath): ConfigProblem {
  const line = lineOf(ctx.lines, path) ?? (fallback && lineOf(ctx.lines, fallback));
  return { file: ctx.file, ...(line !== undefined && { line }), path: formatPath(path), message };
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** v when it is a table, else an empty one: rules skip what the schema rejects. */
function table(v: unknown): Record<string, unknown> {
  return isTable(v) ? v : {};
}

/** An environment's host labels as written, once each: its hosts, or its roles' (the strings only). */
function writtenHosts(env: Record<string, unknown>): string[] {
  const listed = [...(Array.isArray(env.hosts) ? env.hosts : []), ...Object.values(table(env.roles)).flatMap((l) => (Array.isArray(l) ? l : []))];
  return [...new Set(listed.filter((h): h is string => typeof h === "string"))];
}

function environmentTables(raw: RawConfig): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(table(raw.environments)).filter(([, env]) => isTable(env))) as Record<
    string,
    Record<string, unknown>
  >;
}

/** Each place tables are written: the top level, then every environment. */
function places(raw: RawConfig): { prefix: KeyPath; tables: Record<string, unknown> }[] {
  return [
    { prefix: [], tables: table(raw) },
    ...Object.entries(environmentTables(raw)).map(([name, env]) => ({ prefix: ["environments", name], tables: env })),
  ];
}

function jobList(tables: Record<string, unknown>): Record<string, unknown>[] {
  return Array.isArray(tables.jobs) ? tables.jobs.map(table) : [];
}

function calendarKeys(tables: Record<string, unknown>): [KeyPath, string][] {
  const out: [KeyPath, string][] = [];
  const at = table(tables.restart).at;
  if (typeof at === "string") out.push([["restart", "at"], at]);
  jobList(tables).forEach((job, i) => {
    if (typeof job.at === "string") out.push([["jobs", i, "at"], job.at]);
  });
  for (const [name, addon] of Object.entries(table(tables.addons))) {
    const backupAt = table(table(addon).backup).at;
    if (typeof backupAt === "string") out.push([["addons", name, "backup", "at"], backupAt]);
  }
  return out;
}

function webRuns(view: Overridable): boolean {
  return "web" in table(view.processes) && table(view.scale).web !== 0;
}

/** Sections an environment replaces whole when it gives them. */
const WHOLE = new Set(["processes", "jobs"]);

/**
 * Runs a check on each environment's merged view (or the top level alone when there
 * are no environments) and reports each finding once, at the place it belongs: the
 * environment when it wrote the key, or the key that requires it (secrets.store), or the
 * only table of that name; else the top level, naming the environments when not all of
 * them are affected (and once, not once per environment).
 */
function perEnvironment(raw: RawConfig, ctx: RuleContext, check: (view: Overridable) => Finding[]): ConfigProblem[] {
  const envs = environmentTables(raw);
  const names = Object.keys(envs);
  if (names.length === 0) return check(mergeEnvironment(raw, null)).map((f) => problem(ctx, f.path, f.message, f.cause));

  const top = table(raw);
  const out: ConfigProblem[] = [];
  const topLevel = new Map<string, { finding: Finding; envs: string[] }>();
  for (const name of names) {
    const env = envs[name]!;
    for (const f of check(mergeEnvironment(raw, name))) {
      const section = f.path[0] as string;
      const owned =
        get(env, f.path) !== undefined ||
        (f.cause !== undefined && get(env, f.cause) !== undefined) ||
        (WHOLE.has(section) && env[section] !== undefined) ||
        (top[section] === undefined && env[section] !== undefined);
      if (owned) {
        const cause = f.cause && get(env, f.cause) !== undefined ? ["environments", name, ...f.cause] : f.cause;
        out.push(problem(ctx, ["environments", name, ...f.path], f.message, cause));
      } else {
        const key = `${formatPath(f.path)}\n${f.message}`;
        const entry = topLevel.get(key) ?? { finding: f, envs: [] };
        entry.envs.push(name);
        topLevel.set(key, entry);
      }
    }
  }
  for (const { finding, envs: affected } of topLevel.values()) {
    const suffix = affected.length === names.length ? "" : ` (environment${affected.length > 1 ? "s" : ""} ${affected.join(", ")})`;
    out.push(problem(ctx, finding.path, finding.message + suffix, finding.cause));
  }
  return out;
}

function get(v: unknown, path: KeyPath): unknown {
  let cur = v;
  for (const seg of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}
