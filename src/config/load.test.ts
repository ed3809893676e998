import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ConfigError, UsageError, formatProblem } from "../errors.ts";
import { requireTool } from "../../test/tools.ts";
import { loadConfig, loadConfigOrThrow } from "./load.ts";

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** Writes deploy.toml (and a Procfile) to a fresh folder; returns deploy.toml's path. */
async function fixture(toml: string | null, procfile?: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "qdeploy-config-"));
  dirs.push(dir);
  if (toml !== null) await writeFile(path.join(dir, "deploy.toml"), toml);
  if (procfile !== undefined) await writeFile(path.join(dir, "Procfile"), procfile);
  return path.join(dir, "deploy.toml");
}

/** Problems as the user sees them, with the temp folder taken out of file names. */
async function check(
  toml: string | null,
  opts: { env?: string; procfile?: string; binaries?: string[]; appFiles?: string[] } = {},
): Promise<string[]> {
  const file = await fixture(toml, opts.procfile);
  const { problems } = await loadConfig(file, opts.env, { binaries: opts.binaries, ...(opts.appFiles && { appFiles: new Set(opts.appFiles) }) });
  return problems.map((p) => formatProblem(p).replaceAll(`${path.dirname(file)}/`, ""));
}

/** Joins lines (and multi-line parts) into one text ending in a newline. */
const lines = (...ls: string[]) => `${ls.map((l) => l.replace(/\n$/, "")).join("\n")}\n`;

/** A valid file; rows below are variations of it. Lines: 1 app, 2 [processes], 3 web, 4 worker, 5 [web], 6 domains, 7 health, 8 [environments.prod], 9 hosts. */
const GOOD = lines(
  'app = "hello"',
  "[processes]",
  'web = "hello serve"',
  'worker = "hello work"',
  "[web]",
  'domains = ["hello.example.com"]',
  'health = "/healthz"',
  "[environments.prod]",
  'hosts = ["deploy@203.0.113.10"]',
);

const ENV = lines("[environments.prod]", 'hosts = ["deploy@203.0.113.10"]');

interface Row {
  name: string;
  toml: string | null;
  env?: string;
  procfile?: string;
  /** The programs build.main expands to (check's package expansion); absent: not known, names unchecked. */
  binaries?: string[];
  /** The app's files (the slug); absent: not known, relative paths outside bin/ unchecked. */
  appFiles?: string[];
  want: string[];
  /** A program the row needs: missing, the row fails naming it (never a skip). */
  needs?: string;
}

const rows: Row[] = [
  { name: "a valid file has no problems", toml: GOOD, want: [] },
  { name: "a missing file says to run init", toml: null, want: ["deploy.toml: not found; run `qdeploy init` to write one"] },
  {
    name: "TOML syntax error: one problem with line and column",
    toml: lines('app = "hello"', "[web]", "health = "),
    want: [
      "deploy.toml:3: unexpected character, expecting string, number, datetime, boolean, inline array or inline table (column 10)",
    ],
  },
  {
    name: "TOML: unterminated string",
    toml: lines('app = "hello', ENV),
    want: ["deploy.toml:1: unterminated string (column 14)"],
  },
  {
    name: "TOML: a key defined twice",
    toml: lines('app = "hello"', 'app = "again"'),
    want: ["deploy.toml:2: can't redefine existing key (column 14)"],
  },
  { name: "app is required", toml: GOOD.replace('app = "hello"\n', ""), want: ["deploy.toml app: missing (required)"] },
  {
    name: "app must fit the pattern",
    toml: GOOD.replace('"hello"', '"Hello_World"'),
    want: ['deploy.toml:1 app: "Hello_World" must match ^[a-z][a-z0-9-]*$'],
  },
  {
    name: "app is at most 32 characters",
    toml: GOOD.replace('"hello"', `"${"a".repeat(33)}"`),
    want: ["deploy.toml:1 app: must NOT have more than 32 characters"],
  },
  {
    name: "a type error names the key and its line",
    toml: GOOD.replace('health = "/healthz"', "health = 5"),
    want: ["deploy.toml:7 web.health: must be string"],
  },
  {
    name: "a typo'd key gets a did-you-mean",
    toml: GOOD.replace("health =", "helth ="),
    want: [
      'deploy.toml:5 web.health: required with a web process: a path that answers 2xx, e.g. "/healthz"',
      'deploy.toml:7 web.helth: unknown key (did you mean "health"?)',
    ],
  },
  {
    name: "an unknown key far from any lists the allowed ones",
    toml: GOOD.replace("[web]", "[web]\ncolour = 1"),
    want: ["deploy.toml:6 web.colour: unknown key; expected one of: domains, health, tls, drain, health_timeout, standby, watchdog"],
  },
  {
    name: "an unknown table at the top level",
    toml: lines(GOOD, "[buidl]", 'main = "."'),
    want: ['deploy.toml:10 buidl: unknown key (did you mean "build"?)'],
  },
  {
    name: "enums list their values",
    toml: lines(GOOD, "[ssh]", 'host_key = "yes"', "[secrets]", 'store = "vault"'),
    want: [
      'deploy.toml:11 ssh.host_key: must be one of "strict", "accept-new"',
      'deploy.toml:13 secrets.store: must be one of "age", "env", "command"',
    ],
  },
  {
    name: "scale is a whole number 0..100; keep_releases 1..100",
    toml: lines(GOOD.replace('app = "hello"', 'app = "hello"\nkeep_releases = 0'), "[scale]", "worker = 1.5"),
    want: [
      "deploy.toml:2 keep_releases: must be >= 1",
      "deploy.toml:12 scale.worker: must be an integer",
    ],
  },
  {
    name: "scale above 100; scale.web is 0 or 1",
    toml: lines(GOOD, "[scale]", "worker = 101", "web = 2"),
    want: [
      "deploy.toml:11 scale.worker: must be <= 100",
      "deploy.toml:12 scale.web: must be 0 or 1: web runs one live instance per host (blue/green)",
    ],
  },
  {
    name: "every [scale] key names a process",
    toml: lines(GOOD, "[scale]", "wroker = 2"),
    want: ['deploy.toml:11 scale.wroker: no process "wroker"; processes: web, worker'],
  },
  {
    name: "process names fit the pattern; commands are not empty",
    toml: GOOD.replace('worker = "hello work"', 'Worker = "hello work"\nclock = "  "'),
    want: [
      "deploy.toml:4 processes.Worker: bad name; must match ^[a-z][a-z0-9_-]*$",
      "deploy.toml:5 processes.clock: empty command",
    ],
  },
  {
    name: "build.binary is a plain file name: it becomes releases/ID/bin/BINARY",
    toml: lines(GOOD, "[build]", 'binary = "../../../../usr/sbin/sshd"', "[environments.prod.build]", 'binary = ".hidden"'),
    want: [
      'deploy.toml:11 build.binary: "../../../../usr/sbin/sshd" must match ^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$',
      'deploy.toml:13 environments.prod.build.binary: ".hidden" must match ^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$',
    ],
  },
  {
    name: "build.go names a Go release (a pin: the build's Go, kept out of the app's environment)",
    toml: lines(GOOD, "[build]", 'go = "latest"', "[environments.prod.build]", 'go = "go1.25.3"'),
    want: ['deploy.toml:11 build.go: "latest" must match ^(go)?1\\.[0-9]+(\\.[0-9]+)?((rc|beta)[0-9]+)?$'],
  },
  {
    name: "names that become unit names have a length limit",
    toml: GOOD.replace('worker = "hello work"', `${"w".repeat(40)} = "hello work"`),
    want: [`deploy.toml:4 processes.${"w".repeat(40)}: bad name; must be at most 32 characters`],
  },
  {
    name: "web.health is one path: it goes into the health probe's request line",
    toml: GOOD.replace('health = "/healthz"', 'health = "/healthz HTTP/1.0\\r\\nX: y"'),
    want: ['deploy.toml:7 web.health: must be a plain URL path (letters, digits and ._~/%?=&+-; no spaces or quotes), e.g. "/healthz"'],
  },
  {
    name: "hosts are [user@]host[:port], port 1..65535, none twice, at least one",
    toml: lines(
      GOOD,
      "[environments.staging]",
      'hosts = ["203.0.113.20 x", "deploy@203.0.113.21:0", "deploy@203.0.113.22:99999",',
      '  "deploy@[2001:db8::1]:2222", "deploy@[2001:db8::1]:2222"]',
      "[environments.empty]",
      "hosts = []",
    ),
    want: [
      'deploy.toml:11 environments.staging.hosts[0]: "203.0.113.20 x" is not [user@]host[:port]',
      'deploy.toml:11 environments.staging.hosts[1]: "deploy@203.0.113.21:0": port must be 1..65535',
      'deploy.toml:11 environments.staging.hosts[2]: "deploy@203.0.113.22:99999": port must be 1..65535',
      'deploy.toml:12 environments.staging.hosts[4]: "deploy@[2001:db8::1]:2222" is listed twice',
      "deploy.toml:14 environments.empty.hosts: no hosts; add at least one [user@]host[:port]",
    ],
  },
  {
    name: "an environment without hosts, and a bad environment name",
    toml: lines(GOOD, "[environments.Staging]", 'hosts = ["deploy@h"]', "[environments.qa]", 'web = { tls = "internal" }'),
    want: [
      "deploy.toml:10 environments.Staging: bad environment name; use lowercase letters, digits, - and _ (^[a-z][a-z0-9_-]*$)",
      "deploy.toml:12 environments.qa.hosts: missing (required); or give hosts per process in [environments.qa.roles]",
    ],
  },
  {
    name: "roles: hosts per process, a host in two roles, no problems",
    toml: lines(GOOD.replace(ENV, ""), "[environments.prod.roles]", 'web = ["deploy@a", "deploy@b"]', 'worker = ["deploy@c", "deploy@a"]', "[rollout]", 'batch = "25%"', 'pause = "5s"', "[[jobs]]", 'name = "report"', 'command = "hello report"', 'at = "daily"', 'hosts = "all"'),
    want: [],
  },
  {
    name: "roles: each names a process (not release), every process has a host, host lists like hosts",
    toml: lines(
      GOOD,
      "[environments.fleet.roles]",
      'web = ["deploy@a", "deploy@a", "bad host"]',
      'release = ["deploy@b"]',
      'clock = ["deploy@c"]',
      "[environments.empty.roles]",
      "web = []",
      'worker = ["deploy@d:0"]',
    ),
    want: [
      'deploy.toml:10 environments.fleet.roles: process "worker" runs on no host; add worker = ["user@host"]',
      'deploy.toml:11 environments.fleet.roles.web[1]: "deploy@a" is listed twice',
      'deploy.toml:11 environments.fleet.roles.web[2]: "bad host" is not [user@]host[:port]',
      'deploy.toml:12 environments.fleet.roles.release: "release" is the release phase, run once per push on one host: it is not a role',
      'deploy.toml:13 environments.fleet.roles.clock: no process "clock"; processes: web, worker',
      "deploy.toml:15 environments.empty.roles.web: no hosts; add at least one [user@]host[:port]",
      'deploy.toml:16 environments.empty.roles.worker[0]: "deploy@d:0": port must be 1..65535',
    ],
  },
  {
    name: "hosts and roles both: one of the two",
    toml: lines(GOOD, "[environments.both]", 'hosts = ["deploy@a"]', "[environments.both.roles]", 'web = ["deploy@a"]', 'worker = ["deploy@a"]'),
    want: ["deploy.toml:12 environments.both.roles: give hosts or roles, not both: hosts run every process, roles say which hosts run which process"],
  },
  {
    name: "a role of a process another environment drops (scale.web = 0) is not a process there",
    toml: lines(GOOD, "[environments.jobs]", "scale = { web = 0 }", "[environments.jobs.roles]", 'web = ["deploy@a"]', 'worker = ["deploy@b"]'),
    want: ['deploy.toml:13 environments.jobs.roles.web: no process "web"; processes: worker'],
  },
  {
    name: "[serve]: listen is host:port, a branch names an environment, the webhook secret a variable name",
    toml: lines(GOOD, "[serve]", 'listen = "7070"', 'webhook_secret = "my-secret"', 'tls = "off"', "[serve.branches]", 'main = "prod"', 'release = "production"'),
    want: [
      'deploy.toml:11 serve.listen: "7070" is not host:port (e.g. 127.0.0.1:7070) or unix:/PATH',
      'deploy.toml:12 serve.webhook_secret: "my-secret" must match ^[A-Za-z_][A-Za-z0-9_]*$',
      'deploy.toml:13 serve.tls: must be one of "auto", "internal"',
      'deploy.toml:16 serve.branches.release: "production" is not an environment of this file (prod)',
    ],
  },
  {
    name: "[previews]: an environment of this file, not production's hosts; the domain a wildcard; ttl a duration of a minute or more",
    toml: lines(GOOD, "[environments.staging]", 'hosts = ["deploy@203.0.113.10"]', "[previews]", 'environment = "staging"', 'domain = "preview.example.com"', 'ttl = "30s"'),
    want: [
      'deploy.toml:13 previews.environment: "staging" shares deploy@203.0.113.10 with prod: previews run code nobody has reviewed yet; give them a staging environment\'s hosts, or set previews.production_hosts = true',
      'deploy.toml:14 previews.domain: "preview.example.com" is not a wildcard domain: write "*.preview.example.com", each preview gets a name under it',
      'deploy.toml:15 previews.ttl: "30s" is under a minute',
    ],
  },
  {
    name: "[previews]: no such environment; production_hosts lets them share",
    toml: lines(GOOD, "[environments.staging]", 'hosts = ["deploy@203.0.113.10"]', "[previews]", 'environment = "stage"', 'domain = "*.preview.example.com"'),
    want: ['deploy.toml:13 previews.environment: "stage" is not an environment of this file (prod, staging)'],
  },
  {
    name: "[previews]: scrub needs seed",
    toml: lines(GOOD, "[environments.staging]", 'hosts = ["deploy@203.0.113.11"]', "[previews]", 'environment = "staging"', 'domain = "*.preview.example.com"', 'scrub = "bin/scrub"'),
    want: ["deploy.toml:15 previews.scrub: scrub runs on a seeded preview's data: set previews.seed = true, or drop scrub"],
  },
  {
    name: "[serve]: domain is a host name (what --install gives Caddy)",
    toml: lines(GOOD, "[serve]", 'domain = "deploy.example.com { }"'),
    want: ['deploy.toml:11 serve.domain: "deploy.example.com { }" is not a host name (e.g. deploy.example.com)'],
  },
  {
    name: "rollout: batch an integer >= 1 or N% (1..100), pause a duration; a job's hosts is one or all",
    toml: lines(
      GOOD.replace("[web]", lines("[rollout]", "batch = 0", 'pause = "soon"', "[web]")).trimEnd(),
      'rollout = { batch = "150%" }',
      "[environments.b]",
      'hosts = ["deploy@b"]',
      'rollout = { batch = "a quarter", pause = "1m" }',
      "[environments.c]",
      'hosts = ["deploy@c"]',
      "rollout = { batch = 1.5 }",
      "[environments.d]",
      'hosts = ["deploy@d"]',
      'rollout = { batch = "0%" }',
      "[environments.e]",
      'hosts = ["deploy@e"]',
      "rollout = { batch = true, parallel = 2 }",
      "[[jobs]]",
      'name = "report"',
      'command = "hello report"',
      'at = "daily"',
      'hosts = "some"',
    ),
    want: [
      "deploy.toml:6 rollout.batch: must be at least 1 host per wave",
      'deploy.toml:7 rollout.pause: bad duration "soon"; write e.g. "30s", "15m", "1h30m" or "500ms" (a plain number is seconds)',
      'deploy.toml:14 environments.prod.rollout.batch: "150%": the percentage must be 1..100',
      'deploy.toml:17 environments.b.rollout.batch: "a quarter" is neither a number of hosts nor a percentage; write e.g. 2 or "25%"',
      'deploy.toml:20 environments.c.rollout.batch: must be an integer (hosts per wave) or a percentage like "25%"',
      'deploy.toml:23 environments.d.rollout.batch: "0%": the percentage must be 1..100',
      'deploy.toml:26 environments.e.rollout.parallel: unknown key; expected one of: batch, pause, concurrency',
      'deploy.toml:26 environments.e.rollout.batch: must be an integer (hosts per wave) or a percentage like "25%"',
      'deploy.toml:31 jobs[0].hosts: must be one of "one", "all"',
    ],
  },
  {
    name: "rollout.concurrency: a whole number of hosts, 1..1000",
    toml: lines(GOOD, "[rollout]", "concurrency = 0", "[environments.big]", 'hosts = ["deploy@b"]', "rollout = { concurrency = 1001 }", "[environments.c]", 'hosts = ["deploy@c"]', 'rollout = { concurrency = "all" }'),
    want: [
      "deploy.toml:11 rollout.concurrency: must be >= 1",
      "deploy.toml:14 environments.big.rollout.concurrency: must be <= 1000",
      "deploy.toml:17 environments.c.rollout.concurrency: must be an integer",
    ],
  },
  {
    name: "no environments at all",
    toml: GOOD.replace(ENV, ""),
    want: ['deploy.toml environments: none defined; add [environments.NAME] with hosts = ["user@host"]'],
  },
  {
    name: "a web process needs [web] domains and health",
    toml: lines('app = "hello"', "[processes]", 'web = "hello serve"', ENV),
    want: [
      'deploy.toml:3 web.domains: required with a web process: the domains Caddy serves, e.g. ["app.example.com"]',
      'deploy.toml:3 web.health: required with a web process: a path that answers 2xx, e.g. "/healthz"',
    ],
  },
  {
    name: "empty domains; health must start with /; domains are bare names",
    toml: GOOD.replace('["hello.example.com"]', "[]").replace('"/healthz"', '"healthz"').replace(
      ENV,
      lines("[environments.prod]", 'hosts = ["deploy@h"]', 'web = { domains = ["https://hello.example.com/"] }'),
    ),
    want: [
      'deploy.toml:7 web.health: must start with "/", e.g. "/healthz"',
      'deploy.toml:10 environments.prod.web.domains[0]: "https://hello.example.com/" is not a host name (no scheme, port or path)',
    ],
  },
  {
    name: "a [web] table without a web process",
    toml: GOOD.replace('web = "hello serve"\n', ""),
    want: ['deploy.toml:4 web: there is no web process; add processes.web (or Procfile "web:") or remove this table'],
  },
  {
    name: "scale.web = 0 needs no [web] domains",
    toml: lines('app = "hello"', "[processes]", 'web = "hello serve"', "[scale]", "web = 0", ENV),
    want: [],
  },
  {
    name: "job names are unique and fit the pattern; commands not empty; fields required",
    toml: lines(
      GOOD,
      "[[jobs]]",
      'name = "cleanup"',
      'command = "hello cleanup"',
      'at = "hourly"',
      "[[jobs]]",
      'name = "cleanup"',
      'command = ""',
      'at = "daily"',
      "[[jobs]]",
      'name = "Report_1"',
      'command = "hello report"',
    ),
    want: [
      'deploy.toml:15 jobs[1].name: "cleanup" is already the name of jobs[0]',
      "deploy.toml:16 jobs[1].command: empty command",
      "deploy.toml:18 jobs[2].at: missing (required)",
      'deploy.toml:19 jobs[2].name: "Report_1" must match ^[a-z][a-z0-9-]*$',
    ],
  },
  {
    name: "durations are systemd time spans",
    toml: GOOD.replace(
      'health = "/healthz"',
      lines('health = "/healthz"', 'drain = "30 parsecs"', 'health_timeout = "soon"').trimEnd(),
    ) + lines("[restart]", 'at = "daily"', 'jitter = "-5m"'),
    want: [
      'deploy.toml:8 web.drain: bad duration "30 parsecs": unknown unit "parsecs"; use ms, s, m, h, d or w',
      'deploy.toml:9 web.health_timeout: bad duration "soon"; write e.g. "30s", "15m", "1h30m" or "500ms" (a plain number is seconds)',
      'deploy.toml:14 restart.jitter: bad duration "-5m"; write e.g. "30s", "15m", "1h30m" or "500ms" (a plain number is seconds)',
    ],
  },
  {
    name: "ssh.persist is a time span",
    toml: lines(GOOD, "[ssh]", 'persist = "a minute"'),
    want: ['deploy.toml:11 ssh.persist: bad duration "a minute"; write e.g. "30s", "15m", "1h30m" or "500ms" (a plain number is seconds)'],
  },
  {
    name: "web.watchdog is 0 or at least its timer's 10 s",
    toml: lines(GOOD.replace('health = "/healthz"', lines('health = "/healthz"', 'watchdog = "5s"').trimEnd()), "[environments.staging]", 'hosts = ["deploy@203.0.113.11"]', "web.watchdog = \"0\""),
    want: ['deploy.toml:8 web.watchdog: must be "0" or at least 10s: its timer looks every 10 s'],
  },
  {
    name: "a job's timeout is a time span, more than 0 (0 would mean no timeout)",
    toml: lines(GOOD, "[[jobs]]", 'name = "a"', 'command = "x"', 'at = "hourly"', 'timeout = "a while"', "[[jobs]]", 'name = "b"', 'command = "x"', 'at = "hourly"', 'timeout = "0s"', 'jitter = "1.5s"'),
    want: [
      'deploy.toml:14 jobs[0].timeout: bad duration "a while"; write e.g. "30s", "15m", "1h30m" or "500ms" (a plain number is seconds)',
      'deploy.toml:19 jobs[1].timeout: must be more than 0 (0 would mean no timeout at all)',
    ],
  },
  {
    name: "calendar expressions are checked by systemd-analyze",
    needs: "systemd-analyze",
    toml: lines(GOOD, "[restart]", 'at = "Sun *-*-* 25:00:00"', "[[jobs]]", 'name = "a"', 'command = "x"', 'at = "hourly"', "[[jobs]]", 'name = "b"', 'command = "x"', 'at = "every tuesday"'),
    want: [
      'deploy.toml:11 restart.at: not a valid calendar expression (systemd-analyze calendar: Invalid argument); e.g. "hourly" or "Sun *-*-* 04:00:00"',
      'deploy.toml:19 jobs[1].at: not a valid calendar expression (systemd-analyze calendar: Invalid argument); e.g. "hourly" or "Sun *-*-* 04:00:00"',
    ],
  },
  {
    name: "env var names are valid, PORT and QDEPLOY_* are reserved",
    toml: lines(GOOD, "[env]", 'LOG_LEVEL = "info"', 'PORT = "80"', 'QDEPLOY_RELEASE = "x"', '"1BAD" = "x"', '"MY VAR" = "x"', "[secrets]", 'store = "env"', 'names = ["DATABASE_URL", "my-key"]'),
    want: [
      'deploy.toml:12 env.PORT: "PORT" is reserved: qdeploy sets PORT and QDEPLOY_*',
      'deploy.toml:13 env.QDEPLOY_RELEASE: "QDEPLOY_RELEASE" is reserved: qdeploy sets PORT and QDEPLOY_*',
      'deploy.toml:14 env.1BAD: "1BAD" is not a valid variable name (^[A-Za-z_][A-Za-z0-9_]*$)',
      'deploy.toml:15 env."MY VAR": "MY VAR" is not a valid variable name (^[A-Za-z_][A-Za-z0-9_]*$)',
      'deploy.toml:18 secrets.names[1]: "my-key" is not a valid variable name (^[A-Za-z_][A-Za-z0-9_]*$)',
    ],
  },
  {
    name: 'secrets store "env" needs names, "command" needs command',
    toml: lines(GOOD.replace(ENV, ""), "[secrets]", 'store = "env"', ENV, "[environments.staging]", 'hosts = ["deploy@h"]', 'secrets = { store = "command" }'),
    want: [
      'deploy.toml:8 secrets.names: required with store = "env": the variable names to read, e.g. ["DATABASE_URL"] (environment prod)',
      'deploy.toml:14 environments.staging.secrets.command: required with store = "command": an argv printing KEY=VALUE lines',
    ],
  },
  {
    name: "ssh values: strings, jump is a host",
    toml: lines(GOOD, "[ssh]", "identity = 1", 'jump = "ops@bastion:x"'),
    want: ["deploy.toml:11 ssh.identity: must be string", 'deploy.toml:12 ssh.jump: "ops@bastion:x" is not [user@]host[:port]'],
  },
  {
    name: "an environment's inline table: problems point at its line",
    toml: lines(GOOD, "[environments.sandbox]", 'hosts = ["root@127.0.0.1:2222"]', 'web = { domains = "hello.localhost", tls = "internal", helth = "/" }'),
    want: [
      'deploy.toml:12 environments.sandbox.web.helth: unknown key (did you mean "health"?)',
      "deploy.toml:12 environments.sandbox.web.domains: must be array",
    ],
  },
  {
    name: "an environment that drops the web process keeps no [web] table of its own",
    toml: lines(GOOD, "[environments.jobs]", 'hosts = ["deploy@h"]', 'processes = { worker = "hello work" }', 'web = { domains = ["x.example.com"] }', "scale = { web = 1 }"),
    want: [
      'deploy.toml:13 environments.jobs.web: there is no web process; add processes.web (or Procfile "web:") or remove this table',
      'deploy.toml:14 environments.jobs.scale.web: no process "web"; processes: worker',
    ],
  },
  {
    name: "a key missing in only some environments names them",
    toml: lines('app = "hello"', "[processes]", 'web = "hello serve"', "[web]", 'health = "/"', ENV, "[environments.staging]", 'hosts = ["deploy@h"]', 'web = { domains = ["s.example.com"] }'),
    want: ['deploy.toml:4 web.domains: required with a web process: the domains Caddy serves, e.g. ["app.example.com"] (environment prod)'],
  },
  {
    name: "several mistakes in one file, each with its line, in line order",
    toml: lines(
      'app = "Hello"',
      "[build]",
      'cgo = "no"',
      "[processes]",
      'web = "hello serve"',
      "[web]",
      'domains = ["hello.example.com"]',
      'health = "healthz"',
      'tls = "on"',
      "[scale]",
      "worker = 2",
      "[env]",
      "PORT = 8080",
      "[environments.prod]",
      'hosts = ["deploy@"]',
    ),
    want: [
      'deploy.toml:1 app: "Hello" must match ^[a-z][a-z0-9-]*$',
      "deploy.toml:3 build.cgo: must be boolean",
      'deploy.toml:8 web.health: must start with "/", e.g. "/healthz"',
      'deploy.toml:9 web.tls: must be one of "auto", "internal", "off"',
      'deploy.toml:11 scale.worker: no process "worker"; processes: web',
      "deploy.toml:13 env.PORT: must be string",
      'deploy.toml:13 env.PORT: "PORT" is reserved: qdeploy sets PORT and QDEPLOY_*',
      'deploy.toml:15 environments.prod.hosts[0]: "deploy@" is not [user@]host[:port]',
    ],
  },
  {
    name: "without [processes], ./Procfile is read and its problems reported too",
    toml: GOOD.replace(lines("[processes]", 'web = "hello serve"', 'worker = "hello work"'), "").replace("[web]", "[scale]\nclock = 1\n[web]"),
    procfile: lines("# processes", 'web: hello serve', "", "worker hello work", "Clock: hello clock"),
    want: [
      'deploy.toml:3 scale.clock: no process "clock"; processes: web',
      'Procfile:4: expected "name: command", got "worker hello work"',
      "Procfile:5 Clock: bad process name; use lowercase letters, digits, - and _, starting with a letter",
    ],
  },
  {
    name: "Procfile commands are checked as they will run, with the Procfile's line",
    toml: GOOD.replace(lines("[processes]", 'web = "hello serve"', 'worker = "hello work"'), ""),
    procfile: lines(
      "# Heroku's shape",
      "web: bin/web",
      "worker: export WORKER='true' && bin/wrk | tee log",
      "release: bin/hello migrate && ./seed.sh",
      "clock: hello 'tick",
      "cron: -x",
      "ok: ./bin/hello --port $PORT",
      "sh: WEB_SERVER_PORT=$PORT hello ${MODE:-web}",
      "var: hello; $NEXT",
    ),
    binaries: ["hello"],
    want: [
      'Procfile:2 web: "bin/web" is not a binary of the release; use "hello" (or "bin/hello"), a file of the app (./PATH), an absolute path, or a command on systemd\'s PATH',
      'Procfile:3 worker: "bin/wrk" is not a binary of the release; use "hello" (or "bin/hello"), a file of the app (./PATH), an absolute path, or a command on systemd\'s PATH',
      "Procfile:5 clock: unterminated ' in \"hello 'tick\"",
      'Procfile:6 cron: a command may not start with "-" (systemd reads it as an ExecStart= prefix)',
      'Procfile:9 var: the program "$NEXT" cannot come from a variable; name the binary',
    ],
  },
  {
    name: "[hooks] remote_post_deploy is checked as a command of the release",
    toml: `${GOOD}\n[hooks]\nremote_post_deploy = "bin/warm"\n`,
    binaries: ["hello"],
    want: ['deploy.toml:12 hooks.remote_post_deploy: "bin/warm" is not a binary of the release; use "hello" (or "bin/hello"), a file of the app (./PATH), an absolute path, or a command on systemd\'s PATH'],
  },
  {
    name: "with the app's files known, a relative path must be one of them",
    toml: GOOD.replace(lines("[processes]", 'web = "hello serve"', 'worker = "hello work"'), ""),
    procfile: lines("web: ./scripts/run.sh --port $PORT", "worker: bin/tool && ./missing.sh", "release: ./bin/hello migrate", "clock: cd scripts && ./elsewhere.sh"),
    binaries: ["hello"],
    appFiles: ["scripts/run.sh", "bin/tool"],
    want: [
      'Procfile:2 worker: "./missing.sh" is not a binary of the release; use "hello" (or "bin/hello"), a file of the app (./PATH), an absolute path, or a command on systemd\'s PATH',
    ],
  },
  {
    name: "without the programs (no go, or build.main did not expand) a command's bin/NAME is not judged",
    toml: GOOD.replace('web = "hello serve"', 'web = "bin/web"'),
    want: [],
  },
  {
    name: "deploy.toml commands (processes, release, jobs, an environment's own) are checked with their line",
    toml: lines(
      GOOD.replace('worker = "hello work"', 'release = "hello migrate ${X:-1} && `which seed`"'),
      "[[jobs]]",
      'name = "sweep"',
      'command = "sweep; bin/rm -rf /"',
      'at = "hourly"',
      "[environments.staging]",
      'hosts = ["deploy@203.0.113.11"]',
      'processes = { web = "bin/other serve" }',
      'web = { domains = ["staging.example.com"], health = "/healthz" }',
    ),
    binaries: ["hello"],
    want: [
      'deploy.toml:4 processes.release: the program "`which seed`" cannot come from a variable; name the binary',
      'deploy.toml:12 jobs[0].command: "bin/rm" is not a binary of the release; use "hello" (or "bin/hello"), a file of the app (./PATH), an absolute path, or a command on systemd\'s PATH',
      'deploy.toml:16 environments.staging.processes.web: "bin/other" is not a binary of the release; use "hello" (or "bin/hello"), a file of the app (./PATH), an absolute path, or a command on systemd\'s PATH',
    ],
  },
  {
    name: "what the renderers refuse, check refuses first: a health path Caddy cannot carry, a bad domain, an env value, a multi-line calendar",
    toml: lines(
      GOOD.replace('"/healthz"', '"/health z"').replace('["hello.example.com"]', '["a..b"]'),
      "[env]",
      'BAD = "x\\ufdd0"',
      "[restart]",
      'at = "daily\\nhourly"',
      "[environments.staging]",
      'hosts = ["deploy@203.0.113.11"]',
      'web = { health = "/h\\"x" }',
    ),
    want: [
      'deploy.toml:6 web.domains[0]: "a..b" is not a host name (no scheme, port or path)',
      'deploy.toml:7 web.health: must be a plain URL path (letters, digits and ._~/%?=&+-; no spaces or quotes), e.g. "/healthz"',
      "deploy.toml:11 env.BAD: contains U+FDD0, which systemd refuses",
      "deploy.toml:13 restart.at: must be one line without control characters",
      'deploy.toml:16 environments.staging.web.health: must be a plain URL path (letters, digits and ._~/%?=&+-; no spaces or quotes), e.g. "/healthz"',
    ],
  },
  {
    name: "what the renderers assert, check refuses first: no domains, a domain with a port, a NUL in a value or a command, a blank calendar",
    toml: lines(
      GOOD.replace('["hello.example.com"]', "[]").replace('worker = "hello work"', 'worker = "hello\\u0000work"'),
      "[env]",
      'BAD = "a\\u0000b"',
      "[restart]",
      'at = " "',
      "[environments.staging]",
      'hosts = ["deploy@203.0.113.11"]',
      'web = { domains = ["staging.example.com:8443"] }',
    ),
    want: [
      "deploy.toml:4 processes.worker: a command cannot contain a NUL byte",
      'deploy.toml:6 web.domains: required with a web process: the domains Caddy serves, e.g. ["app.example.com"] (environment prod)',
      "deploy.toml:11 env.BAD: contains a NUL byte, which no environment variable can hold",
      "deploy.toml:13 restart.at: empty calendar expression",
      'deploy.toml:16 environments.staging.web.domains[0]: "staging.example.com:8443" is not a host name (no scheme, port or path)',
    ],
  },
  {
    name: "durations a unit file can say: digits that overflow are refused",
    toml: GOOD.replace('health = "/healthz"', `health = "/healthz"\ndrain = "${"9".repeat(400)}"\nhealth_timeout = "${"9".repeat(400)}s"`),
    want: ["deploy.toml:8 web.drain: Infinity is not a number of seconds", "deploy.toml:9 web.health_timeout: Infinity is not a number of seconds"],
  },
  {
    name: "firewall.allow: TCP ports 1..65535",
    toml: lines(GOOD, "[firewall]", "allow = [0, 22, 65536, 8.5]"),
    want: ["deploy.toml:11 firewall.allow[0]: must be >= 1", "deploy.toml:11 firewall.allow[2]: must be <= 65535", "deploy.toml:11 firewall.allow[3]: must be an integer"],
  },
  {
    name: "[addons]: a known service, a host of the environment, its own variable, a valid schedule",
    toml: lines(
      GOOD.replace('hosts = ["deploy@203.0.113.10"]', 'hosts = ["deploy@203.0.113.10"]\n[environments.prod.addons.db]\nhost = "deploy@db-1"'),
      "[env]",
      'REDIS_URL = "x"',
      "[addons.db]",
      'service = "postgres"',
      "[addons.cache]",
      'service = "redis"',
      "[addons.search]",
      'service = "elastic"',
      "[addons.Bad]",
      'service = "redis"',
      'var = "DATABASE_URL"',
      "backup = { keep = 0 }",
    ),
    want: [
      'deploy.toml:11 environments.prod.addons.db.host: "deploy@db-1" is not a host of prod (deploy@203.0.113.10): on a host of its own, the add-on needs the address prod\'s hosts reach it at (address = "10.0.0.5", its private network\'s)',
      "deploy.toml:16 addons.cache.var: REDIS_URL is also set in [env]: the add-on sets it (give the add-on another var, or drop env.REDIS_URL)",
      'deploy.toml:19 addons.search.service: must be one of "postgres", "redis"',
      "deploy.toml:20 addons.Bad: bad name; must match ^[a-z][a-z0-9]*$",
      "deploy.toml:22 addons.Bad.var: DATABASE_URL is add-on db's variable too: give one of them another var",
      "deploy.toml:23 addons.Bad.backup.keep: must be >= 1",
    ],
  },
  {
    name: "[addons]: an environment's table may override one key; the service is required somewhere",
    toml: lines(GOOD.replace('hosts = ["deploy@203.0.113.10"]', 'hosts = ["deploy@203.0.113.10"]\n[environments.prod.addons.cache]\nbackup = { keep = 2 }'), "[addons.db]", 'var = "PG_URL"'),
    want: [
      'deploy.toml:10 environments.prod.addons.cache: missing service (required): "postgres" or "redis"',
      'deploy.toml:12 addons.db: missing service (required): "postgres" or "redis"',
    ],
  },
  {
    name: "[addons]: a top-level add-on's problem is reported once, not once per environment",
    toml: lines(GOOD, "[environments.staging]", 'hosts = ["deploy@203.0.113.20"]', "[env]", 'DATABASE_URL = "x"', "[addons.db]", 'service = "postgres"'),
    want: ["deploy.toml:14 addons.db.var: DATABASE_URL is also set in [env]: the add-on sets it (give the add-on another var, or drop env.DATABASE_URL)"],
  },
  {
    name: "[addons]: in an environment of several hosts an add-on needs its host's private address, an IP address that is not loopback",
    toml: lines(
      GOOD.replace('hosts = ["deploy@203.0.113.10"]', 'hosts = ["deploy@203.0.113.10", "deploy@203.0.113.11"]'),
      "[addons.db]",
      'service = "postgres"',
      "[addons.cache]",
      'service = "redis"',
      'address = "db-1.internal"',
      "[addons.queue]",
      'service = "redis"',
      'address = "127.0.0.1"',
      "[addons.ok]",
      'service = "redis"',
      'var = "OK_URL"',
      'address = "fd00::5"',
    ),
    want: [
      "deploy.toml:11 addons.db.service: prod has 2 hosts: give the add-on the address its host is reached at from the others (address = \"10.0.0.5\", its private network's), where it listens with TLS for them alone",
      'deploy.toml:14 addons.cache.address: "db-1.internal" is not an IP address other hosts can reach: write the private address the other hosts reach deploy@203.0.113.10 at, e.g. "10.0.0.5"',
      "deploy.toml:15 addons.queue.var: REDIS_URL is add-on cache's variable too: give one of them another var",
      'deploy.toml:17 addons.queue.address: "127.0.0.1" is not an IP address other hosts can reach: write the private address the other hosts reach deploy@203.0.113.10 at, e.g. "10.0.0.5"',
    ],
  },
  {
    name: "[addons]: a host of its own (a database server) with an address is fine; one that is not [user@]host[:port] is refused",
    toml: lines(
      GOOD,
      "[addons.db]",
      'service = "postgres"',
      'host = "deploy@db-1"',
      'address = "10.0.0.5"',
      "[addons.cache]",
      'service = "redis"',
      'host = "deploy@db 1"',
      'address = "10.0.0.5"',
    ),
    want: ['deploy.toml:16 addons.cache.host: "deploy@db 1" is not [user@]host[:port]'],
  },
  {
    name: "[serve]: domain is one host name, no wildcard, no port",
    toml: lines(GOOD, "[serve]", 'domain = "*.example.com"'),
    want: ['deploy.toml:11 serve.domain: "*.example.com" is not a host name (e.g. deploy.example.com)'],
  },
  {
    name: "[serve]: a domain with a port",
    toml: lines(GOOD, "[serve]", 'domain = "deploy.example.com:8443"'),
    want: ['deploy.toml:11 serve.domain: "deploy.example.com:8443" is not a host name (e.g. deploy.example.com)'],
  },
  {
    name: "release_timeout is a duration",
    toml: lines('release_timeout = "soon"', GOOD.replace('hosts = ["deploy@203.0.113.10"]', 'hosts = ["deploy@203.0.113.10"]\nrelease_timeout = "0"').replace("[web]", 'release = "hello migrate"\n[scale]\nrelease = 1\n[web]')),
    want: [
      'deploy.toml:1 release_timeout: bad duration "soon"; write e.g. "30s", "15m", "1h30m" or "500ms" (a plain number is seconds)',
      'deploy.toml:8 scale.release: "release" is the release phase, run once per push: it is not scaled',
      "deploy.toml:14 environments.prod.release_timeout: must be more than 0 (0 would mean no timeout at all)",
    ],
  },
  {
    name: "[resources]: a process that is not one, a size Heroku has not, memory without a unit or under 16M",
    toml: lines(
      GOOD,
      "[resources.web]",
      'size = "standard-3x"',
      "[resources.worker]",
      'memory = "512"',
      "[resources.release]",
      "cpu = 1",
      "[environments.prod.resources.worker]",
      'memory = "8M"',
      "cpu = 0",
    ),
    want: [
      'deploy.toml:11 resources.web.size: must be one of "eco", "basic", "standard-1x", "standard-2x", "performance-m", "performance-l", "performance-l-ram", "performance-xl", "performance-2xl"',
      'deploy.toml:13 resources.worker.memory: "512" is not an amount of memory: a number and K, M, G or T, e.g. "512M" or "1.5G"',
      'deploy.toml:14 resources.release: no process "release"; processes: web, worker',
      'deploy.toml:17 environments.prod.resources.worker.memory: "8M" is less than 16M: a Go program does not start in that',
      "deploy.toml:18 environments.prod.resources.worker.cpu: must be > 0",
    ],
  },
  {
    name: "no [processes] and no Procfile",
    toml: lines('app = "hello"', ENV),
    want: ['deploy.toml processes: none defined; add [processes] (e.g. web = "APP serve") or a Procfile beside deploy.toml'],
  },
  {
    name: "an unknown environment lists the defined ones",
    toml: lines(GOOD, "[environments.sandbox]", 'hosts = ["root@127.0.0.1:2222"]'),
    env: "staging",
    want: ['deploy.toml:8 environments: no environment "staging"; defined: prod, sandbox'],
  },
];

describe("loadConfig problems", () => {
  for (const row of rows) {
    test(row.name, async () => {
      if (row.needs) requireTool(row.needs);
      expect(await check(row.toml, { env: row.env, procfile: row.procfile, binaries: row.binaries, appFiles: row.appFiles })).toEqual(row.want);
    });
  }
});

describe("loadConfig results", () => {
  const SPEC_EXAMPLE = lines(
    'app = "hello"',
    "[build]",
    'main = "./cmd/hello"',
    "[processes]",
    'web = "hello serve"',
    'worker = "hello work"',
    "[web]",
    'domains = ["hello.example.com"]',
    'health = "/healthz"',
    'drain = "10s"',
    "[scale]",
    "worker = 2",
    "[env]",
    'LOG_LEVEL = "info"',
    "[environments.prod]",
    'hosts = ["deploy@203.0.113.10", "deploy@203.0.113.11"]',
    "[environments.sandbox]",
    'hosts = ["root@127.0.0.1:2222"]',
    'ssh = { identity = ".qdeploy/sandbox/id_ed25519", known_hosts = ".qdeploy/sandbox/known_hosts" }',
    'web = { domains = ["hello.localhost"], tls = "internal" }',
    'env = { LOG_LEVEL = "debug" }',
  );

  test("an environment overrides the top-level tables key by key", async () => {
    const file = await fixture(SPEC_EXAMPLE);
    const { config, problems } = await loadConfig(file, "sandbox");
    expect(problems).toEqual([]);
    expect(config!.root).toBe(path.dirname(file));
    expect(config!.web).toEqual({ domains: ["hello.localhost"], health: "/healthz", tls: "internal", drainSec: 10, healthTimeoutSec: 60, standbySec: 900, watchdogSec: 0 });
    expect(config!.vars).toEqual({ LOG_LEVEL: "debug" });
    expect(config!.ssh).toEqual({ identity: ".qdeploy/sandbox/id_ed25519", knownHosts: ".qdeploy/sandbox/known_hosts", hostKey: "strict", persistSec: 60 });
    expect(config!.hosts).toEqual([{ user: "root", host: "127.0.0.1", port: 2222, label: "root@127.0.0.1:2222" }]);
  });

  test("the other environment keeps the top-level values", async () => {
    const config = await loadConfigOrThrow(await fixture(SPEC_EXAMPLE), "prod");
    expect(config.web!.domains).toEqual(["hello.example.com"]);
    expect(config.web!.tls).toBe("auto");
    expect(config.vars).toEqual({ LOG_LEVEL: "info" });
    expect(config.scale).toEqual({ worker: 2 });
    expect(config.hosts.map((h) => h.label)).toEqual(["deploy@203.0.113.10", "deploy@203.0.113.11"]);
  });

  test("Procfile processes are used when the file has none", async () => {
    const file = await fixture(GOOD.replace(lines("[processes]", 'web = "hello serve"', 'worker = "hello work"'), ""), "web: hello serve --port $PORT\nclock: hello clock\n");
    const config = await loadConfigOrThrow(file, "prod");
    expect(config.processes).toEqual({ web: "hello serve --port $PORT", clock: "hello clock" });
    expect(config.scale).toEqual({ clock: 1 });
  });

  test("Procfile release: is the release phase, never a process (no unit, not scaled)", async () => {
    const file = await fixture(
      GOOD.replace(lines("[processes]", 'web = "hello serve"', 'worker = "hello work"'), "").replace("[environments.prod]", "[environments.prod]\nrelease_timeout = \"90s\""),
      "web: hello serve\nrelease: bin/hello migrate --env $APP_ENV\n",
    );
    const config = await loadConfigOrThrow(file, "prod");
    expect(config.processes).toEqual({ web: "hello serve" });
    expect(config.scale).toEqual({});
    expect(config.release).toEqual({ command: "bin/hello migrate --env $APP_ENV", timeoutSec: 90 });
    const noRelease = await loadConfigOrThrow(await fixture(GOOD), "prod");
    expect(noRelease.release).toBeNull();
  });

  test("without an environment name: checks all, resolves the only one", async () => {
    const { config, problems } = await loadConfig(await fixture(GOOD));
    expect(problems).toEqual([]);
    expect(config!.env).toBe("prod");
    const two = await fixture(SPEC_EXAMPLE);
    expect((await loadConfig(two)).config).toBeNull();
    await expect(loadConfigOrThrow(two)).rejects.toBeInstanceOf(UsageError);
  });

  test("loadConfigOrThrow throws every problem in one ConfigError", async () => {
    const file = await fixture(GOOD.replace('"/healthz"', "5").replace('"hello"', '"Hello"'));
    const err = await loadConfigOrThrow(file, "prod").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => `${p.line} ${p.path}`)).toEqual(["1 app", "7 web.health"]);
    expect((err as ConfigError).message.split("\n")).toHaveLength(2);
  });
});
