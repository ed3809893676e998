import { describe, expect, test } from "bun:test";
import { ConfigError } from "../errors.ts";
import { mergeEnvironment, parseHost, resolveEnvironment } from "./resolve.ts";
import type { RawConfig, ResolvedConfig } from "./types.ts";

const minimal: RawConfig = {
  app: "hello",
  processes: { web: "hello serve", worker: "hello work" },
  web: { domains: ["hello.example.com"], health: "/healthz" },
  environments: { prod: { hosts: ["deploy@203.0.113.10"] } },
};

describe("resolveEnvironment", () => {
  test("fills every default", () => {
    const want: ResolvedConfig = {
      app: "hello",
      env: "prod",
      root: "/src/hello",
      hosts: [{ user: "deploy", host: "203.0.113.10", label: "deploy@203.0.113.10" }],
      roles: null,
      rollout: { batch: null, pauseSec: 0 },
      build: {
        dir: "/src/hello",
        binary: "hello",
        cgo: false,
        ldflags: "-s -w",
        tags: [],
        stamp: { symbol: "main.version", value: "{git.sha}" },
      },
      processes: { web: "hello serve", worker: "hello work" },
      release: null,
      web: { domains: ["hello.example.com"], health: "/healthz", tls: "auto", drainSec: 30, healthTimeoutSec: 60, standbySec: 900, watchdogSec: 0 },
      scale: { worker: 1 },
      resources: {},
      restart: null,
      jobs: [],
      vars: {},
      secrets: { store: "age" },
      ssh: { knownHosts: "~/.ssh/known_hosts", hostKey: "strict", persistSec: 60 },
      keepReleases: 5,
      addons: [],
      addonOnlyHosts: [],
      firewall: { allow: [22, 80, 443] },
      notify: [],
      hooks: { commands: {}, timeoutSec: 300 },
      logDrain: null,
      serve: { listen: { host: "127.0.0.1", port: 7070 }, domain: null, tls: "auto", webhookSecret: "WEBHOOK_SECRET", remote: "origin", branches: {}, githubToken: null, githubApi: "https://api.github.com" },
      previews: null,
    };
    expect(resolveEnvironment(minimal, "prod", "/src/hello")).toEqual(want);
  });

  test("an environment's tables override the top level's one key at a time; processes, jobs and arrays replace", () => {
    const raw: RawConfig = {
      app: "hello",
      build: { dir: "examples/hello", main: "./cmd/hello", tags: ["netgo"], stamp: { symbol: "main.commit", value: "{git.sha}" }, go: "go1.25" },
      processes: { web: "hello serve", worker: "hello work" },
      web: { domains: ["hello.example.com"], health: "/healthz", drain: "1m", health_timeout: "2m30s" },
      scale: { worker: 3 },
      restart: { at: "Sun *-*-* 04:00:00", jitter: "15m" },
      jobs: [{ name: "cleanup", command: "hello cleanup", at: "hourly" }],
      env: { LOG_LEVEL: "info", REGION: "eu" },
      secrets: { store: "env", names: ["DATABASE_URL"] },
      ssh: { identity: "~/.ssh/deploy", host_key: "accept-new" },
      keep_releases: 3,
      firewall: { allow: [8443] },
      hooks: { pre_deploy: "./bin/ci-green", post_deploy: "./bin/tell-chat", timeout: "1m" },
      resources: { web: { size: "standard-2x", nofile: 4096 }, worker: { memory: "256M" } },
      environments: {
        staging: {
          hosts: ["root@127.0.0.1:2222", "deploy@[2001:db8::1]:2200"],
          build: { tags: ["debug"] },
          processes: { web: "hello serve --debug", clock: "hello clock" },
          web: { domains: ["staging.example.com"], tls: "internal" },
          scale: { clock: 2 },
          restart: { at: "daily" },
          jobs: [{ name: "report", command: "hello report", at: "weekly", jitter: "500ms", timeout: "1.5m" }],
          env: { LOG_LEVEL: "debug" },
          ssh: { known_hosts: ".qdeploy/known_hosts" },
          keep_releases: 10,
          firewall: { allow: [2222, 80, 2222] },
          hooks: { post_deploy: "true" },
          resources: { web: { memory: "768M" } },
        },
      },
    };
    const want: ResolvedConfig = {
      app: "hello",
      env: "staging",
      root: "/r",
      hosts: [
        { user: "root", host: "127.0.0.1", port: 2222, label: "root@127.0.0.1:2222" },
        { user: "deploy", host: "2001:db8::1", port: 2200, label: "deploy@[2001:db8::1]:2200" },
      ],
      roles: null,
      rollout: { batch: null, pauseSec: 0 },
      build: {
        dir: "/r/examples/hello",
        main: "./cmd/hello",
        binary: "hello",
        cgo: false,
        ldflags: "-s -w",
        tags: ["debug"],
        tagsGiven: true,
        stamp: { symbol: "main.commit", value: "{git.sha}" },
        stampGiven: true,
        go: "go1.25",
      },
      processes: { web: "hello serve --debug", clock: "hello clock" },
      release: null,
      web: { domains: ["staging.example.com"], health: "/healthz", tls: "internal", drainSec: 60, healthTimeoutSec: 150, standbySec: 900, watchdogSec: 0 },
      scale: { clock: 2 },
      // web's keys merged over the top level's one by one; worker does not run here.
      resources: { web: { size: "standard-2x", memoryBytes: 768 * 1024 ** 2, cpu: null, cpuWeight: 200, tasks: null, nofile: 4096 } },
      restart: { at: "daily", jitterSec: 900 },
      jobs: [{ name: "report", command: "hello report", at: "weekly", jitterSec: 0.5, timeoutSec: 90, allHosts: false }],
      vars: { LOG_LEVEL: "debug", REGION: "eu" },
      secrets: { store: "env", names: ["DATABASE_URL"] },
      ssh: { identity: "~/.ssh/deploy", knownHosts: ".qdeploy/known_hosts", hostKey: "accept-new", persistSec: 60 },
      keepReleases: 10,
      addons: [],
      addonOnlyHosts: [],
      firewall: { allow: [80, 2222] },
      // Merged key by key, as every table is.
      notify: [],
      hooks: { commands: { pre_deploy: "./bin/ci-green", post_deploy: "true" }, timeoutSec: 60 },
      logDrain: null,
      serve: { listen: { host: "127.0.0.1", port: 7070 }, domain: null, tls: "auto", webhookSecret: "WEBHOOK_SECRET", remote: "origin", branches: {}, githubToken: null, githubApi: "https://api.github.com" },
      previews: null,
    };
    expect(resolveEnvironment(raw, "staging", "/r")).toEqual(want);
  });

  test("build.ldflags and build.tags written, even empty, are marked given (an install line's flags do not replace them)", () => {
    const c = resolveEnvironment({ ...minimal, build: { ldflags: "", tags: [] } }, "prod", "/r");
    expect([c.build.ldflags, c.build.ldflagsGiven, c.build.tags, c.build.tagsGiven, c.build.go]).toEqual(["", true, [], true, undefined]);
  });

  test("add-ons: defaults (first host, Heroku's variable, daily keep 7), in name order; an environment replaces one add-on's keys one by one", () => {
    const raw: RawConfig = {
      ...minimal,
      addons: { db: { service: "postgres" }, cache: { service: "redis", var: "CACHE_URL" } },
      environments: { prod: { hosts: ["d@h1", "d@h2"], addons: { db: { backup: { at: "hourly", keep: 24 } }, search: { service: "redis", host: "d@h2", address: "10.0.0.2" } } } },
    };
    expect(resolveEnvironment(raw, "prod", "/r").addons).toEqual([
      { name: "cache", service: "redis", host: "d@h1", address: null, var: "CACHE_URL", backup: { at: "daily", keep: 7 } },
      { name: "db", service: "postgres", host: "d@h1", address: null, var: "DATABASE_URL", backup: { at: "hourly", keep: 24 } },
      { name: "search", service: "redis", host: "d@h2", address: "10.0.0.2", var: "REDIS_URL", backup: { at: "daily", keep: 7 } },
    ]);
    expect(resolveEnvironment(raw, "prod", "/r").addonOnlyHosts).toEqual([]);
    // A database server of its own: parsed once, however many add-ons it has.
    const own: RawConfig = { ...raw, addons: { db: { service: "postgres", host: "pg@db-1:2200", address: "10.0.0.9" }, cache: { service: "redis", host: "pg@db-1:2200", address: "10.0.0.9" } } };
    expect(resolveEnvironment(own, "prod", "/r").addonOnlyHosts).toEqual([{ user: "pg", host: "db-1", port: 2200, label: "pg@db-1:2200" }]);
  });

  test("firewall.enabled = false leaves the host's firewall alone; a job's timeout defaults to 1h", () => {
    const raw: RawConfig = { ...minimal, jobs: [{ name: "j", command: "hello j", at: "hourly" }], environments: { prod: { hosts: ["d@h"], firewall: { enabled: false } } } };
    const c = resolveEnvironment(raw, "prod", "/r");
    expect([c.firewall, c.jobs[0]!.timeoutSec]).toEqual([null, 3600]);
  });

  test("[logs] drain: parsed; an environment's \"\" turns it off; a drain qdeploy cannot send to is a problem at logs.drain", () => {
    const raw: RawConfig = { ...minimal, logs: { drain: "syslog+tls://logs.example.com:6514" }, environments: { prod: { hosts: ["d@h"] }, dev: { hosts: ["d@h"], logs: { drain: "" } } } };
    expect(resolveEnvironment(raw, "prod", "/r").logDrain).toEqual({ host: "logs.example.com", port: 6514, url: "syslog+tls://logs.example.com:6514" });
    expect(resolveEnvironment(raw, "dev", "/r").logDrain).toBeNull();
    expect(() => resolveEnvironment({ ...raw, logs: { drain: "https://logs.example.com/in" } }, "prod", "/r")).toThrow(ConfigError);
  });

  test("[serve]: listen parsed (IPv6 in brackets), branches kept, defaults filled in", () => {
    const raw: RawConfig = { ...minimal, serve: { listen: "[::1]:8080", branches: { main: "prod" }, webhook_secret: "HOOK" } };
    expect(resolveEnvironment(raw, "prod", "/r").serve).toEqual({ listen: { host: "::1", port: 8080 }, domain: null, tls: "auto", webhookSecret: "HOOK", remote: "origin", branches: { main: "prod" }, githubToken: null, githubApi: "https://api.github.com" });
    expect(() => resolveEnvironment({ ...minimal, serve: { listen: "7070" } }, "prod", "/r")).toThrow('serve.listen: "7070" is not host:port');
    // [previews] with its defaults, the same in every environment.
    expect(resolveEnvironment({ ...minimal, previews: { environment: "prod", domain: "*.pr.example.com" } }, "prod", "/r").previews).toEqual({
      environment: "prod", domainSuffix: "pr.example.com", max: 5, ttlSec: 5 * 86_400, forks: false, seed: false, scrub: null,
    });
    expect(() => resolveEnvironment({ ...minimal, serve: { listen: "h:70000" } }, "prod", "/r")).toThrow("is not host:port");
    expect(resolveEnvironment({ ...minimal, serve: { listen: "unix:/run/qdeploy-serve/http.sock" } }, "prod", "/r").serve.listen).toEqual({ unix: "/run/qdeploy-serve/http.sock" });
    expect(() => resolveEnvironment({ ...minimal, serve: { listen: "unix:run/x.sock" } }, "prod", "/r")).toThrow("a unix socket is unix:/ABSOLUTE/PATH");
  });

  test("no web process: web is null, scale covers every process", () => {
    const raw: RawConfig = { app: "jobs", processes: { worker: "jobs work", clock: "jobs clock" }, scale: { clock: 0 }, environments: { prod: { hosts: ["d@h"] } } };
    const c = resolveEnvironment(raw, "prod", "/r");
    expect([c.web, c.scale]).toEqual([null, { worker: 1, clock: 0 }]);
  });

  test("scale.web = 0 runs no web process in that environment", () => {
    const raw: RawConfig = { ...minimal, environments: { prod: { hosts: ["d@h"], scale: { web: 0 } } } };
    const c = resolveEnvironment(raw, "prod", "/r");
    expect([c.web, c.processes, c.scale]).toEqual([null, { worker: "hello work" }, { worker: 1 }]);
  });

  test("the age store's files are left to the store's defaults unless named", () => {
    const raw: RawConfig = { ...minimal, secrets: { recipients: "keys.txt" } };
    expect(resolveEnvironment(raw, "prod", "/r").secrets).toEqual({ store: "age", recipients: "keys.txt" });
  });

  test("roles: hosts are every role's hosts once each, in the order first written; roles keep their lists", () => {
    const raw: RawConfig = {
      ...minimal,
      processes: { web: "hello serve", worker: "hello work", clock: "hello clock" },
      environments: { prod: { roles: { worker: ["d@c", "d@a"], web: ["d@a", "d@b:2200"], clock: ["d@c"] } } },
    };
    const c = resolveEnvironment(raw, "prod", "/r");
    expect(c.hosts).toEqual([
      { user: "d", host: "c", label: "d@c" },
      { user: "d", host: "a", label: "d@a" },
      { user: "d", host: "b", port: 2200, label: "d@b:2200" },
    ]);
    expect(c.roles).toEqual({ worker: ["d@c", "d@a"], web: ["d@a", "d@b:2200"], clock: ["d@c"] });
    // The processes are the environment's, whoever runs them (src/plan/fleet.ts splits them per host).
    expect(Object.keys(c.processes)).toEqual(["web", "worker", "clock"]);
  });

  test("hosts: roles null; rollout defaults to canary then the rest with no pause; jobs run on one host", () => {
    const raw: RawConfig = { ...minimal, jobs: [{ name: "j", command: "hello j", at: "hourly" }] };
    const c = resolveEnvironment(raw, "prod", "/r");
    expect([c.roles, c.rollout, c.jobs[0]!.allHosts]).toEqual([null, { batch: null, pauseSec: 0 }, false]);
  });

  test("rollout: a count, a percentage, a pause; an environment's rollout merges key by key; job hosts", () => {
    const raw: RawConfig = {
      ...minimal,
      rollout: { batch: 2, pause: "5s" },
      jobs: [{ name: "a", command: "hello a", at: "hourly", hosts: "all" }, { name: "b", command: "hello b", at: "hourly", hosts: "one" }],
      environments: { prod: { hosts: ["d@h"] }, big: { hosts: ["d@h"], rollout: { batch: "25%" } } },
    };
    expect(resolveEnvironment(raw, "prod", "/r").rollout).toEqual({ batch: 2, pauseSec: 5 });
    const big = resolveEnvironment(raw, "big", "/r");
    expect(big.rollout).toEqual({ batch: { percent: 25 }, pauseSec: 5 });
    expect(big.jobs.map((j) => [j.name, j.allHosts])).toEqual([["a", true], ["b", false]]);
  });

  test("rollout.concurrency: kept as written, an environment's winning; absent when unwritten (the executor's default applies)", () => {
    const raw: RawConfig = { ...minimal, rollout: { concurrency: 8 }, environments: { prod: { hosts: ["d@h"] }, big: { hosts: ["d@h"], rollout: { concurrency: 100 } } } };
    expect(resolveEnvironment(raw, "prod", "/r").rollout).toEqual({ batch: null, pauseSec: 0, concurrency: 8 });
    expect(resolveEnvironment(raw, "big", "/r").rollout.concurrency).toBe(100);
    expect("concurrency" in resolveEnvironment(minimal, "prod", "/r").rollout).toBe(false);
  });

  test("an unknown environment is a ConfigError listing the defined ones", () => {
    const err = (() => {
      try {
        resolveEnvironment(minimal, "staging", "/r");
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toBe('deploy.toml environments: no environment "staging"; defined: prod');
  });
});

describe("mergeEnvironment", () => {
  test("without an environment: the top-level tables", () => {
    expect(mergeEnvironment(minimal, null)).toEqual({ processes: minimal.processes, web: minimal.web });
  });
  test("an environment's hosts and roles are not tables to merge", () => {
    const raw: RawConfig = { ...minimal, environments: { prod: { roles: { web: ["d@a"], worker: ["d@b"] }, keep_releases: 2 } } };
    expect(mergeEnvironment(raw, "prod")).toEqual({ processes: minimal.processes, web: minimal.web, keep_releases: 2 });
  });
  test("web merges one level deep", () => {
    const raw: RawConfig = { ...minimal, environments: { prod: { hosts: ["d@h"], web: { tls: "off" } } } };
    expect(mergeEnvironment(raw, "prod").web).toEqual({ domains: ["hello.example.com"], health: "/healthz", tls: "off" });
  });
});

describe("parseHost", () => {
  const rows: [string, string | object][] = [
    // A user or port left out stays unset: ~/.ssh/config may give it (src/remote/ssh-config.ts).
    ["deploy@example.com", { user: "deploy", host: "example.com" }],
    ["root@127.0.0.1:2222", { user: "root", host: "127.0.0.1", port: 2222 }],
    ["ops@[::1]:22", { user: "ops", host: "::1", port: 22 }],
    ["example.com", { host: "example.com" }],
    ["prod-web", { host: "prod-web" }],
    ["my_alias:2200", { host: "my_alias", port: 2200 }],
    ["a@b:0", '"a@b:0": port must be 1..65535'],
    ["a@b:65536", '"a@b:65536": port must be 1..65535'],
    ["a@b c", '"a@b c" is not [user@]host[:port]'],
    ["@host", '"@host" is not [user@]host[:port]'],
    ["-oProxyCommand=x", '"-oProxyCommand=x" is not [user@]host[:port]'],
  ];
  for (const [input, want] of rows) {
    test(input, () => {
      if (typeof want === "string") expect(() => parseHost(input)).toThrow(want);
      else expect(parseHost(input)).toEqual({ ...want, label: input } as never);
    });
  }
});
