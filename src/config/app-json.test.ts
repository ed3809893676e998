import { describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ConfigProblem } from "../errors.ts";
import { addonNeeds, appVarNeeds, missingVarProblems, parseAppJson, readAppJson, type AppJson } from "./app-json.ts";

const FILE = "app.json";
const parse = (text: string) => parseAppJson(text, FILE);
/** The manifest of a JSON value, without its key lines. */
const manifestOf = (value: unknown) => {
  const { manifest, problems } = parse(JSON.stringify(value, null, 2));
  expect(problems).toEqual([]);
  const { lines: _, ...rest } = manifest!;
  return rest;
};

describe("parseAppJson: what is read", () => {
  const rows: [string, unknown, Partial<AppJson>][] = [
    ["an empty manifest", {}, { env: [], addons: [], formation: [], buildpacks: [] }],
    [
      "env: a string is a value; an object may have description, value, required (default true), generator",
      {
        env: {
          LOG_LEVEL: "info",
          WEB_CONCURRENCY: { description: "processes", value: "5" },
          SECRET_TOKEN: { description: "signs cookies", generator: "secret" },
          STRIPE_KEY: { description: "Stripe API key" },
          SENTRY_DSN: { required: false },
          SYNCED: { value: "x", sync: true }, // Dokku's own key: ignored
        },
      },
      {
        env: [
          { name: "LOG_LEVEL", value: "info", required: true },
          { name: "WEB_CONCURRENCY", value: "5", description: "processes", required: true },
          { name: "SECRET_TOKEN", description: "signs cookies", required: true, generator: "secret" },
          { name: "STRIPE_KEY", description: "Stripe API key", required: true },
          { name: "SENTRY_DSN", required: false },
          { name: "SYNCED", value: "x", required: true },
        ],
      },
    ],
    [
      "addons: a plan string (service[:plan]) or {plan, as, options}",
      { addons: ["heroku-postgresql:mini", "papertrail", { plan: "heroku-redis:premium-0", as: "CACHE", options: { version: "7" } }] },
      {
        addons: [
          { plan: "heroku-postgresql:mini", service: "heroku-postgresql" },
          { plan: "papertrail", service: "papertrail" },
          { plan: "heroku-redis:premium-0", service: "heroku-redis", as: "CACHE" },
        ],
      },
    ],
    [
      "formation, scripts, buildpacks, name, description",
      {
        name: "Small Sharp Tool",
        description: "does one thing",
        formation: { web: { quantity: 1, size: "standard-1x" }, worker: { quantity: 2 } },
        scripts: { postdeploy: "bin/seed", "pr-predestroy": "bin/cleanup" },
        buildpacks: [{ url: "heroku/go" }],
        keywords: ["ignored"],
        environments: { test: { scripts: { test: "go test ./..." } } },
      },
      {
        name: "Small Sharp Tool",
        description: "does one thing",
        formation: [
          { process: "web", quantity: 1, size: "standard-1x" },
          { process: "worker", quantity: 2 },
        ],
        postdeploy: "bin/seed",
        prPredestroy: "bin/cleanup",
        buildpacks: ["heroku/go"],
      },
    ],
  ];
  for (const [name, value, want] of rows) {
    test(name, () => expect(manifestOf(value)).toMatchObject({ file: FILE, ...want }));
  }
});

describe("parseAppJson: problems, with their lines", () => {
  const rows: [string, string, ConfigProblem[]][] = [
    ["broken JSON: line and column", '{\n  "env": {\n    "A": "1",\n  }\n}\n', [{ file: FILE, line: 4, column: 3, path: "", message: "invalid JSON: a comma before '}' (JSON allows none) (column 3)" }]],
    ["not an object", "[]", [{ file: FILE, line: 1, path: "", message: "must be a JSON object ({ ... })" }]],
    [
      "env entries",
      '{\n "env": {\n  "A": 1,\n  "B": {"value": 5},\n  "C": {"required": "yes"},\n  "D": {"generator": "uuid"},\n  "1X": "x",\n  "E": {"value": "a\\u0000b"}\n }\n}',
      [
        { file: FILE, line: 3, path: "env.A", message: "must be a string (its value) or an object (description, value, required, generator)" },
        { file: FILE, line: 4, path: "env.B.value", message: "must be a string" },
        { file: FILE, line: 5, path: "env.C.required", message: "must be true or false" },
        { file: FILE, line: 6, path: "env.D.generator", message: 'must be "secret" (the only generator)' },
        { file: FILE, line: 7, path: "env.1X", message: '"1X" is not a valid variable name (^[A-Za-z_][A-Za-z0-9_]*$)' },
        { file: FILE, line: 8, path: "env.E.value", message: "contains a NUL byte, which no environment variable can hold" },
      ],
    ],
    [
      "addons, formation, scripts, buildpacks",
      '{\n "addons": ["", {"as": "X"}, 3],\n "formation": {"web": {"quantity": -1}, "worker": 2},\n "scripts": {"postdeploy": ["x"]},\n "buildpacks": ["heroku/go"]\n}',
      [
        { file: FILE, line: 2, path: "addons[0]", message: 'must be a plan ("heroku-postgresql", "heroku-postgresql:essential-0") or an object with a plan' },
        { file: FILE, line: 2, path: "addons[1].plan", message: 'missing (required): the add-on\'s plan, e.g. "heroku-postgresql"' },
        { file: FILE, line: 2, path: "addons[2]", message: 'must be a plan ("heroku-postgresql", "heroku-postgresql:essential-0") or an object with a plan' },
        { file: FILE, line: 3, path: "formation.web.quantity", message: "must be an integer, 0 or more" },
        { file: FILE, line: 3, path: "formation.worker", message: "must be an object: {quantity, size}" },
        { file: FILE, line: 4, path: "scripts.postdeploy", message: "must be a string" },
        { file: FILE, line: 5, path: "buildpacks[0]", message: 'must be an object with a url, e.g. {"url": "heroku/go"}' },
      ],
    ],
    [
      "top-level types",
      '{"name": 1, "env": [], "addons": {}, "formation": [], "scripts": "x", "buildpacks": {}}',
      [
        { file: FILE, line: 1, path: "name", message: "must be a string" },
        { file: FILE, line: 1, path: "env", message: "must be an object: config var name -> value or {description, value, required, generator}" },
        { file: FILE, line: 1, path: "addons", message: "must be a list of add-ons" },
        { file: FILE, line: 1, path: "formation", message: "must be an object: process type -> {quantity, size}" },
        { file: FILE, line: 1, path: "scripts", message: "must be an object: postdeploy, pr-predestroy" },
        { file: FILE, line: 1, path: "buildpacks", message: "must be a list of buildpacks" },
      ],
    ],
  ];
  for (const [name, text, problems] of rows) {
    test(name, () => expect(parse(text)).toEqual({ manifest: null, problems }));
  }
});

describe("addonNeeds", () => {
  const rows: [string, string | undefined, ReturnType<typeof addonNeeds>][] = [
    ["heroku-postgresql:mini", undefined, { what: "a PostgreSQL database", vars: ["DATABASE_URL"], service: "postgres" }],
    ["heroku-postgresql", "ANALYTICS", { what: "a PostgreSQL database", vars: ["ANALYTICS_URL"], service: "postgres" }],
    ["heroku-redis:mini", undefined, { what: "a Redis", vars: ["REDIS_URL"], service: "redis" }],
    ["rediscloud:30", undefined, { what: "a Redis", vars: ["REDISCLOUD_URL"], service: "redis" }],
    ["redistogo:nano", undefined, { what: "a Redis", vars: ["REDISTOGO_URL"], service: "redis" }],
    ["openredis", undefined, { what: "a Redis", vars: ["OPENREDIS_URL"], service: "redis" }],
    ["scheduler:standard", undefined, { what: null, vars: [], hint: "Heroku Scheduler's jobs are [[jobs]] in deploy.toml (name, command, at)" }],
    ["papertrail:choklad", undefined, { what: null, vars: [] }],
  ];
  for (const [plan, as, want] of rows) {
    test(`${plan}${as ? ` as ${as}` : ""}`, () => {
      const service = plan.split(":")[0]!;
      expect(addonNeeds({ plan, service, ...(as && { as }) })).toEqual(want);
    });
  }
});

const MANIFEST = `{
  "env": {
    "LOG_LEVEL": "info",
    "SECRET_TOKEN": {"generator": "secret"},
    "STRIPE_KEY": {"description": "Stripe API key"},
    "SENTRY_DSN": {"required": false},
    "PORT": {"description": "Heroku's"},
    "DATABASE_URL": {"description": "also the add-on's"}
  },
  "addons": ["heroku-postgresql", "heroku-redis", "papertrail"]
}`;

describe("appVarNeeds: what must exist before the app starts", () => {
  test("required vars without a value, generated ones, and the known add-ons' vars; once each, PORT never", () => {
    const { manifest } = parse(MANIFEST);
    expect(appVarNeeds(manifest!)).toEqual([
      { name: "SECRET_TOKEN", path: ["env", "SECRET_TOKEN"], generator: true },
      { name: "STRIPE_KEY", path: ["env", "STRIPE_KEY"], generator: false },
      { name: "DATABASE_URL", path: ["env", "DATABASE_URL"], generator: false },
      { name: "REDIS_URL", path: ["addons", 1], generator: false, addon: "heroku-redis" },
    ]);
  });
});

describe("missingVarProblems: check's rule", () => {
  const { manifest } = parse(MANIFEST);
  const age = { kind: "age" as const, where: "secrets/prod.env.age" };
  const rows: [string, { vars: Record<string, string>; secrets: string[]; store?: { kind: "age" | "env" | "command"; where: string } }, ConfigProblem[]][] = [
    ["all set: as secrets or in [env]", { vars: { STRIPE_KEY: "pk" }, secrets: ["SECRET_TOKEN", "DATABASE_URL", "REDIS_URL"] }, []],
    [
      "none set, age store",
      { vars: {}, secrets: [] },
      [
        { file: FILE, line: 4, path: "env.SECRET_TOKEN", message: 'generated on Heroku (generator "secret"), but prod has no such secret (secrets/prod.env.age) and no [env] entry; set it: openssl rand -hex 32 | qdeploy secrets set prod SECRET_TOKEN' },
        { file: FILE, line: 5, path: "env.STRIPE_KEY", message: "required by app.json, but prod has no such secret (secrets/prod.env.age) and no [env] entry; set it: qdeploy secrets set prod STRIPE_KEY" },
        { file: FILE, line: 8, path: "env.DATABASE_URL", message: "required by app.json, but prod has no such secret (secrets/prod.env.age) and no [env] entry; set it: qdeploy secrets set prod DATABASE_URL" },
        { file: FILE, line: 10, path: "addons[1]", message: "heroku-redis gives the app REDIS_URL on Heroku, but prod has no such secret (secrets/prod.env.age) and no [env] entry; set it: qdeploy secrets set prod REDIS_URL" },
      ],
    ],
    [
      "store env: the fix is secrets.names",
      { vars: {}, secrets: ["SECRET_TOKEN", "DATABASE_URL", "REDIS_URL"], store: { kind: "env", where: "secrets.names" } },
      [{ file: FILE, line: 5, path: "env.STRIPE_KEY", message: 'required by app.json, but prod has no such secret (secrets.names) and no [env] entry; set it: add "STRIPE_KEY" to secrets.names and export it where qdeploy runs' }],
    ],
  ];
  for (const [name, have, problems] of rows) {
    test(name, () => {
      expect(missingVarProblems(manifest!, { env: "prod", vars: have.vars, secrets: have.secrets, store: have.store ?? age })).toEqual(problems);
    });
  }
});

describe("readAppJson", () => {
  test("null without app.json; the manifest, or every problem, with it", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "qdeploy-appjson-"));
    try {
      expect(await readAppJson(dir)).toEqual({ manifest: null, problems: [] });
      await writeFile(path.join(dir, "app.json"), '{"env": {"A": "1"}}');
      expect((await readAppJson(dir, "shown/app.json")).manifest).toMatchObject({ file: "shown/app.json", env: [{ name: "A", value: "1", required: true }] });
      await writeFile(path.join(dir, "app.json"), '{"env": {"A": "1",}}');
      expect(await readAppJson(dir)).toEqual({
        manifest: null,
        problems: [{ file: path.join(dir, "app.json"), line: 1, column: 19, path: "", message: "invalid JSON: a comma before '}' (JSON allows none) (column 19)" }],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
