import { afterAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import TOML from "@iarna/toml";
import { ConfigError, OperationError, formatProblem } from "../errors.ts";
import { parseAppJson } from "./app-json.ts";
import { appNameFromModule, planFromAppJson, renderInitConfig, writeInitConfig, type AppJsonPlan } from "./init.ts";
import { loadConfig } from "./load.ts";
import { renderSchemaJson } from "./schema.ts";

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function tempDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "qdeploy-init-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

describe("appNameFromModule", () => {
  const rows: [string, string][] = [
    ["github.com/acme/hello", "hello"],
    ["github.com/acme/Hello_World.go", "hello-world-go"],
    ["github.com/acme/api/v2", "api"],
    ["example.com/2fast", "fast"],
    ["hello", "hello"],
    ["github.com/acme/___", "app"],
    [`x/${"long".repeat(10)}`, "longlonglonglonglonglonglonglong"],
  ];
  for (const [module, app] of rows) test(`${module} -> ${app}`, () => expect(appNameFromModule(module)).toBe(app));
});

describe("renderInitConfig", () => {
  test("starts with the #:schema line and parses", () => {
    const text = renderInitConfig({ app: "hello", module: "github.com/acme/hello", processes: null });
    expect(text.split("\n")[0]).toBe("#:schema ./.qdeploy/deploy.schema.json");
    expect(TOML.parse(text)).toMatchObject({ app: "hello", processes: { web: "hello" }, build: { main: "." } });
  });

  test("without a Procfile: passes loadConfig, web runs the binary", async () => {
    const dir = await tempDir({ "deploy.toml": renderInitConfig({ app: "hello", module: "example.com/hello", processes: null, main: "./cmd/hello" }) });
    const { problems, raw } = await loadConfig(path.join(dir, "deploy.toml"));
    expect(problems).toEqual([]);
    expect(Object.keys(raw.environments!)).toEqual(["prod", "sandbox"]);
    const { config } = await loadConfig(path.join(dir, "deploy.toml"), "sandbox");
    expect(config!.web).toEqual({ domains: ["hello.localhost"], health: "/", tls: "internal", drainSec: 30, healthTimeoutSec: 60, standbySec: 900, watchdogSec: 0 });
    expect(config!.build.main).toBe("./cmd/hello");
  });

  test("with a Procfile without web: no [web] anywhere, passes loadConfig", async () => {
    const procfile = "worker: jobs work\nclock: jobs clock\n";
    const text = renderInitConfig({ app: "jobs", module: "example.com/jobs", processes: { worker: "jobs work", clock: "jobs clock" } });
    expect(text).toContain("#   worker: jobs work\n#   clock: jobs clock\n");
    expect(text).not.toMatch(/^\[web\]|^web =/m);
    const dir = await tempDir({ "deploy.toml": text, Procfile: procfile });
    const { problems, config } = await loadConfig(path.join(dir, "deploy.toml"), "prod");
    expect(problems).toEqual([]);
    expect(config!.processes).toEqual({ worker: "jobs work", clock: "jobs clock" });
  });
});

test("renderInitConfig: the install line's -tags/-ldflags as [build] keys, a flag with no key named, the build keys commented", () => {
  const text = renderInitConfig({ app: "shop", module: "example.com/shop", processes: null, main: ["./cmd/migrate", "."], tags: ["postgres", "x"], ldflags: "-w", leftOut: ["-race", "-gcflags all=-N"] });
  const build = text.slice(text.indexOf("[build]"), text.indexOf("[processes]"));
  expect(build).toBe(
    [
      "[build]                            # cross-compiled locally for each host's OS and CPU",
      'main = ["./cmd/migrate", "."]      # each main package becomes bin/NAME',
      'tags = ["postgres", "x"]           # from go.mod\'s install line',
      'ldflags = "-w"                     # from go.mod\'s install line',
      "# go.mod's install line also has -race, which qdeploy has no [build] key for: left out",
      "# go.mod's install line also has -gcflags all=-N, which qdeploy has no [build] key for: left out",
      "# cgo = false                      # true: C code (e.g. mattn/go-sqlite3) built with zig, still one static file",
      '# go = "go1.25"                    # the Go to build with; default: go.mod\'s goVersion, toolchain or go line',
      '# stamp = { symbol = "main.version", value = "{git.sha}" }',
      "",
      "",
    ].join("\n"),
  );
  expect(TOML.parse(text)).toMatchObject({ build: { tags: ["postgres", "x"], ldflags: "-w" } });
});

describe("writeInitConfig", () => {
  test("reads go.mod and Procfile, finds the main package, writes deploy.toml and the schema", async () => {
    const dir = await tempDir({
      "go.mod": "module github.com/acme/shop/v3\n\ngo 1.22\n",
      Procfile: "web: shop serve\nworker: shop work\n",
      "cmd/shop/main.go": "package main\n",
    });
    const { file: written } = await writeInitConfig(dir);
    expect(written).toBe(path.join(dir, "deploy.toml"));
    const text = await readFile(written, "utf8");
    expect(text).toContain('app = "shop"');
    expect(text).toContain('main = "./cmd/shop"');
    expect(await readFile(path.join(dir, ".qdeploy/deploy.schema.json"), "utf8")).toBe(renderSchemaJson());
    const { problems, config } = await loadConfig(written, "prod");
    expect(problems).toEqual([]);
    expect(config!.processes).toEqual({ web: "shop serve", worker: "shop work" });
  });

  test("a main package is found by its package clause, whatever its file is called; a library or a test is none", async () => {
    const dir = await tempDir({
      "go.mod": "module example.com/sched\n",
      "cmd/server/server.go": "// Command server.\npackage main\n",
      "cmd/release/release.go": "package main\n",
      "cmd/util/util.go": "package util\n",
      "cmd/only_test/x_test.go": "package main\n",
    });
    const text = await readFile((await writeInitConfig(dir)).file, "utf8");
    expect(text).toContain('main = "./cmd/..."');
    const one = await tempDir({ "go.mod": "module example.com/one\n", "app.go": "package main\n", "cmd/x/x.go": "package main\n" });
    expect(await readFile((await writeInitConfig(one)).file, "utf8")).toContain('main = "."');
  });

  test("refuses to overwrite deploy.toml", async () => {
    const dir = await tempDir({ "go.mod": "module x\n", "deploy.toml": "app = 'mine'\n" });
    const err = await writeInitConfig(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toBe(`${path.join(dir, "deploy.toml")} already exists; edit it (\`qdeploy check\` validates it) or remove it first`);
    expect(await readFile(path.join(dir, "deploy.toml"), "utf8")).toBe("app = 'mine'\n");
  });

  test("an install line that does not read as a shell line is an error, not a guess", async () => {
    const dir = await tempDir({ "go.mod": "module x\n// +heroku install -tags 'pg ./cmd/x\n" });
    await expect(writeInitConfig(dir)).rejects.toThrow(`go.mod:2 // +heroku install: cannot be read as a shell line: unterminated ' in "-tags 'pg ./cmd/x"; fix the line, or remove it and write build.main yourself`);
  });

  test("needs a go.mod", async () => {
    const dir = await tempDir({});
    await expect(writeInitConfig(dir)).rejects.toThrow(`no go.mod in ${dir}; run \`go mod init MODULE\` first`);
  });
});

const APP_JSON = {
  name: "Shop",
  env: {
    LOG_LEVEL: "info",
    WEB_CONCURRENCY: { description: "The number of processes to run.", value: "5" },
    SECRET_TOKEN: { description: "Signs cookies.", generator: "secret" },
    STRIPE_KEY: { description: "Stripe API key\nfrom the dashboard" },
    SENTRY_DSN: { description: "Where errors go.", required: false },
    DATABASE_URL: { description: "the add-on's" },
    PORT: { value: "5000" },
  },
  addons: ["heroku-postgresql:mini", { plan: "heroku-redis", as: "CACHE" }, "papertrail", "scheduler"],
  formation: { web: { quantity: 2, size: "standard-1x" }, worker: { quantity: 3, size: "performance-m" }, clock: { quantity: 1 } },
  scripts: { postdeploy: "bin/seed --demo", "pr-predestroy": "bin/cleanup" },
  buildpacks: [{ url: "heroku/go" }, { url: "https://github.com/acme/heroku-buildpack-ffmpeg" }],
};

describe("planFromAppJson: what init writes and prints for app.json", () => {
  const manifestOf = (value: unknown) => parseAppJson(JSON.stringify(value), "app.json").manifest!;
  const rows: [string, unknown, string[], AppJsonPlan][] = [
    [
      "every part",
      APP_JSON,
      ["web", "worker"],
      {
        env: { LOG_LEVEL: "info", WEB_CONCURRENCY: "5" },
        scale: { worker: 3 },
        addons: { db: { service: "postgres", from: "heroku-postgresql:mini" }, redis: { service: "redis", var: "CACHE_URL", from: "heroku-redis as CACHE" } },
        notes: [
          "From app.json (Shop):",
          "  [env] in deploy.toml: LOG_LEVEL, WEB_CONCURRENCY (its config vars with a value)",
          "  PORT: left out; qdeploy sets PORT",
          "  Secrets to set for prod before the first push (stored in secrets/prod.env.age):",
          '    openssl rand -hex 32 | qdeploy secrets set prod SECRET_TOKEN  # a random value, as Heroku\'s generator "secret" makes; Signs cookies.',
          "    qdeploy secrets set prod STRIPE_KEY  # Stripe API key",
          "  Optional (required: false):",
          "    qdeploy secrets set prod SENTRY_DSN  # Where errors go.",
          "  Add-ons qdeploy installs on your host and wires into every release (push does it):",
          "    [addons.db] (postgres): DATABASE_URL, from heroku-postgresql:mini",
          "    [addons.redis] (redis): CACHE_URL, from heroku-redis as CACHE",
          "  Add-ons qdeploy does not run: run each service yourself, then set what it gives the app:",
          "    papertrail: set its config vars yourself, as secrets",
          "    scheduler: Heroku Scheduler's jobs are [[jobs]] in deploy.toml (name, command, at)",
          "  [scale] in deploy.toml from formation: worker = 3 (instances on each host; Heroku's quantity counts dynos in all)",
          "  formation.web: quantity 2, but qdeploy runs one web instance per host: give prod 2 hosts",
          '  formation.clock: there is no process "clock"; left out',
          "  Dyno sizes are ignored (standard-1x, performance-m): each process may use all of its host",
          "  scripts.postdeploy: not run by qdeploy; after the first push, run it once: qdeploy exec prod -- bin/seed --demo",
          "  scripts.pr-predestroy: not used (qdeploy has no review apps)",
          "  Buildpacks not run (qdeploy builds the Go module itself): https://github.com/acme/heroku-buildpack-ffmpeg",
          "  The sandbox environment needs the same secrets: run those lines with sandbox in place of prod.",
        ],
      },
    ],
    [
      "values only; web scaled to 0; a postdeploy with shell syntax runs under bash",
      { env: { A: "1" }, formation: { web: { quantity: 0 } }, scripts: { postdeploy: "bin/migrate && bin/seed 'x y'" } },
      ["web"],
      {
        env: { A: "1" },
        scale: { web: 0 },
        addons: {},
        notes: [
          "From app.json:",
          "  [env] in deploy.toml: A (its config vars with a value)",
          "  [scale] in deploy.toml from formation: web = 0 (instances on each host; Heroku's quantity counts dynos in all)",
          "  scripts.postdeploy: not run by qdeploy; after the first push, run it once: qdeploy exec prod -- bash -c 'bin/migrate && bin/seed '\\''x y'\\'''",
        ],
      },
    ],
    ["nothing qdeploy uses", { name: "x", buildpacks: [{ url: "heroku/go" }] }, ["web"], { env: {}, scale: {}, addons: {}, notes: [] }],
  ];
  for (const [name, value, processes, want] of rows) {
    test(name, () => {
      expect(planFromAppJson(manifestOf(value), { env: "prod", otherEnvs: ["sandbox"], processes, secretsFile: "secrets/prod.env.age" })).toEqual(want);
    });
  }
});

describe("writeInitConfig with app.json", () => {
  test("[env] and [scale] from it, no secret value anywhere, the notes returned; check's loader accepts the file", async () => {
    const dir = await tempDir({
      "go.mod": "module example.com/shop\n\ngo 1.22\n",
      "main.go": "package main\n",
      Procfile: "web: shop\nworker: shop work\n",
      "app.json": JSON.stringify({ ...APP_JSON, env: { ...APP_JSON.env, API_TOKEN: { value: "tok", generator: "secret" } } }, null, 2),
    });
    const { file, notes } = await writeInitConfig(dir);
    const text = await readFile(file, "utf8");
    expect(text).toContain(
      [
        "[scale]                            # from app.json's formation: instances on each host",
        "worker = 3",
        "",
      ].join("\n"),
    );
    expect(text).toContain(
      [
        "[env]                              # plain config vars, for every environment",
        'LOG_LEVEL = "info"                 # from app.json',
        'WEB_CONCURRENCY = "5"              # from app.json',
        "",
      ].join("\n"),
    );
    expect(text).not.toContain("tok");
    expect(text).not.toMatch(/SECRET_TOKEN|STRIPE_KEY|API_TOKEN|^PORT/m);
    expect(notes).toContain("    openssl rand -hex 32 | qdeploy secrets set prod API_TOKEN  # a random value, as Heroku's generator \"secret\" makes");
    const { problems, config } = await loadConfig(file, "prod");
    expect(problems).toEqual([]);
    expect(config!.vars).toEqual({ LOG_LEVEL: "info", WEB_CONCURRENCY: "5" });
    expect(config!.scale).toMatchObject({ worker: 3 });
    // Its add-ons: Postgres and Redis as [addons] (the Redis under its `as` name's variable).
    expect(text).toContain(
      [
        "[addons.db]                        # from app.json's heroku-postgresql:mini: Debian's postgresql on the host",
        'service = "postgres"',
        '# var = "DATABASE_URL"             # the variable the app reads its URL from',
        '# backup = { at = "daily", keep = 7 }',
        '# address = "10.0.0.5"            # its host\'s private address, when other hosts reach it (a fleet)',
        "",
        "[addons.redis]                     # from app.json's heroku-redis as CACHE: Debian's redis-server on the host",
        'service = "redis"',
        'var = "CACHE_URL"',
      ].join("\n"),
    );
    expect(config!.addons.map((a) => [a.name, a.service, a.var, a.host])).toEqual([
      ["db", "postgres", "DATABASE_URL", "deploy@203.0.113.10"],
      ["redis", "redis", "CACHE_URL", "deploy@203.0.113.10"],
    ]);
  });

  test("without app.json: no notes", async () => {
    const dir = await tempDir({ "go.mod": "module example.com/plain\n" });
    expect((await writeInitConfig(dir)).notes).toEqual([]);
  });

  test("a broken app.json: a config error naming the file, line and column; nothing written", async () => {
    const dir = await tempDir({ "go.mod": "module example.com/shop\n", "app.json": '{\n  "env": {\n    "A": "1"\n    "B": "2"\n  }\n}\n' });
    const err = await writeInitConfig(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`${path.join(dir, "app.json")}:4: invalid JSON: expected ',' or '}' after the value of "A", found '"' (column 5)`);
    expect((await readdir(dir)).sort()).toEqual(["app.json", "go.mod"]);
  });

  test("an app.json of the wrong shape: every problem, nothing written", async () => {
    const dir = await tempDir({ "go.mod": "module example.com/shop\n", "app.json": '{"env": {"A": 1}, "addons": [{}]}' });
    const err = await writeInitConfig(dir).catch((e: unknown) => e);
    expect((err as ConfigError).problems.map(formatProblem)).toEqual([
      `${path.join(dir, "app.json")}:1 env.A: must be a string (its value) or an object (description, value, required, generator)`,
      `${path.join(dir, "app.json")}:1 addons[0].plan: missing (required): the add-on's plan, e.g. "heroku-postgresql"`,
    ]);
    expect((await readdir(dir)).sort()).toEqual(["app.json", "go.mod"]);
  });
});
