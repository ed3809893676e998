import { afterAll, describe, expect, test } from "bun:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createOutput } from "../output.ts";
import { writeSecretsFile } from "../secrets/age-store.ts";
import { Redactor } from "../secrets/redact.ts";
import { check } from "./check.ts";

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

const APP_JSON = `{
  "env": {
    "LOG_LEVEL": "info",
    "SECRET_TOKEN": {"generator": "secret"},
    "STRIPE_KEY": {"description": "Stripe API key"},
    "SENTRY_DSN": {"required": false}
  },
  "addons": ["heroku-postgresql:mini", "papertrail"]
}
`;

/** deploy.toml with prod (the age store) and ci (store env or command, per `ciSecrets`); no go.mod, so no go is run. */
const TOML = (ciSecrets: string, env = "") => `app = "shop"
[processes]
web = "shop serve"
[web]
domains = ["shop.example.com"]
health = "/"
${env}
[environments.prod]
hosts = ["deploy@203.0.113.10"]
[environments.ci]
hosts = ["deploy@203.0.113.11"]
secrets = ${ciSecrets}
`;

interface Setup {
  toml?: string;
  appJson?: string;
  /** prod's age file holds these names (each with a value); absent: no file. */
  prodSecrets?: string[];
  /** Pass --identity (the key the file is encrypted to); else nothing can decrypt it. */
  identity?: boolean;
}

async function runCheck(s: Setup, env?: string): Promise<{ code: number; out: string[]; err: string[] }> {
  const dir = await mkdtemp(path.join(tmpdir(), "qdeploy-check-"));
  dirs.push(dir);
  await writeFile(path.join(dir, "deploy.toml"), s.toml ?? TOML('{ store = "env", names = ["SECRET_TOKEN", "DATABASE_URL"] }'));
  if (s.appJson !== undefined) await writeFile(path.join(dir, "app.json"), s.appJson);
  const key = await generateIdentity();
  await writeFile(path.join(dir, "key.txt"), `${key}\n`);
  if (s.prodSecrets) {
    await mkdir(path.join(dir, "secrets"));
    await writeSecretsFile(path.join(dir, "secrets/prod.env.age"), Object.fromEntries(s.prodSecrets.map((n) => [n, `value-of-${n}`])), [await identityToRecipient(key)]);
  }
  const out: string[] = [];
  const err: string[] = [];
  const output = createOutput({ tty: true, color: false, errTty: false, errColor: false, write: (t) => out.push(t.trimEnd()), writeErr: (t) => err.push(t.trimEnd()) });
  const ctx = { out: output, redactor: new Redactor(), configFile: path.join(dir, "deploy.toml"), lockWaitSec: 0, ...(s.identity && { identityFile: path.join(dir, "key.txt") }) };
  // No QDEPLOY_AGE_KEY and an empty config folder: only --identity can decrypt.
  const code = await check(ctx, env, { HOME: dir, XDG_CONFIG_HOME: path.join(dir, "config") });
  const clean = (l: string) => l.replaceAll(`${dir}/`, "");
  return { code, out: out.map(clean), err: err.map(clean) };
}

const NO_IDENTITY =
  "no age identity to decrypt secrets with: QDEPLOY_AGE_KEY is not set, no --identity FILE was given, and config/qdeploy/age-identity.txt does not exist. " +
  "In CI, set QDEPLOY_AGE_KEY to the CI's AGE-SECRET-KEY-1... key; on your machine, run `qdeploy secrets list ENV` to create your key, then ask a teammate to run " +
  "`qdeploy secrets recipients add` with the public key it prints.";

describe("check: app.json's required config vars", () => {
  const rows: [string, Setup, string | undefined, { code: number; out: string[]; err: string[] }][] = [
    [
      "every one set in prod's age store or [env]: ok, naming the store read",
      { appJson: APP_JSON, prodSecrets: ["SECRET_TOKEN", "DATABASE_URL"], identity: true, toml: TOML('{ store = "env", names = ["X"] }', '[env]\nSTRIPE_KEY = "pk_test"') },
      "prod",
      {
        code: 0,
        out: [
          "deploy.toml: ok (app shop; environment prod)",
          "app.json: prod has every config var it requires (checked against secrets/prod.env.age and [env])",
        ],
        err: [],
      },
    ],
    [
      "prod has no secrets yet (no file: nothing to decrypt): each var, with the line that sets it",
      { appJson: APP_JSON },
      "prod",
      {
        code: 2,
        out: ["3 problems in app.json"],
        err: [
          'error: app.json:4 env.SECRET_TOKEN: generated on Heroku (generator "secret"), but prod has no such secret (secrets/prod.env.age) and no [env] entry; set it: openssl rand -hex 32 | qdeploy secrets set prod SECRET_TOKEN',
          "error: app.json:5 env.STRIPE_KEY: required by app.json, but prod has no such secret (secrets/prod.env.age) and no [env] entry; set it: qdeploy secrets set prod STRIPE_KEY",
          "error: app.json:8 addons[0]: heroku-postgresql gives the app DATABASE_URL on Heroku, but prod has no such secret (secrets/prod.env.age) and no [env] entry; set it: qdeploy secrets set prod DATABASE_URL",
        ],
      },
    ],
    [
      "some set: the others",
      { appJson: APP_JSON, prodSecrets: ["SECRET_TOKEN", "STRIPE_KEY", "UNRELATED"], identity: true },
      "prod",
      {
        code: 2,
        out: ["1 problem in app.json"],
        err: [
          "error: app.json:8 addons[0]: heroku-postgresql gives the app DATABASE_URL on Heroku, but prod has no such secret (secrets/prod.env.age) and no [env] entry; set it: qdeploy secrets set prod DATABASE_URL",
        ],
      },
    ],
    [
      "the age file cannot be decrypted here (no identity): not checked, said so, not a failure",
      { appJson: APP_JSON, prodSecrets: ["SECRET_TOKEN"] },
      "prod",
      {
        code: 0,
        out: ["deploy.toml: ok (app shop; environment prod)"],
        err: [`warning: app.json: prod's required config vars not checked: secrets/prod.env.age cannot be read here: ${NO_IDENTITY}`],
      },
    ],
    [
      'store "env": the names in secrets.names count',
      { appJson: APP_JSON },
      "ci",
      {
        code: 2,
        out: ["1 problem in app.json"],
        err: [
          'error: app.json:5 env.STRIPE_KEY: required by app.json, but ci has no such secret (secrets.names) and no [env] entry; set it: add "STRIPE_KEY" to secrets.names and export it where qdeploy runs',
        ],
      },
    ],
    [
      'store "command": not run by check, said so',
      { appJson: APP_JSON, toml: TOML('{ store = "command", command = ["sops", "-d", "secrets/ci.env"] }') },
      "ci",
      {
        code: 0,
        out: ["deploy.toml: ok (app shop; environment ci)"],
        err: ['warning: app.json: ci\'s required config vars not checked: secrets.store "command" runs a program, which check does not; push reads it'],
      },
    ],
    [
      "no ENV: every environment",
      { appJson: APP_JSON, prodSecrets: ["SECRET_TOKEN", "STRIPE_KEY", "DATABASE_URL"], identity: true },
      undefined,
      {
        code: 2,
        out: ["1 problem in app.json"],
        err: [
          'error: app.json:5 env.STRIPE_KEY: required by app.json, but ci has no such secret (secrets.names) and no [env] entry; set it: add "STRIPE_KEY" to secrets.names and export it where qdeploy runs',
        ],
      },
    ],
    [
      "nothing required: the store is not read at all",
      { appJson: '{"env": {"A": "1"}}', prodSecrets: ["X"] },
      "prod",
      { code: 0, out: ["deploy.toml: ok (app shop; environment prod)"], err: [] },
    ],
    [
      "a broken app.json is a problem beside deploy.toml's own",
      { appJson: '{"env": {"A": "1",}}', toml: TOML('{ store = "env", names = ["X"] }').replace('health = "/"', 'health = "nope"') },
      "prod",
      {
        code: 2,
        out: ["2 problems in deploy.toml, app.json"],
        err: [
          'error: deploy.toml:6 web.health: must start with "/", e.g. "/healthz"',
          "error: app.json:1: invalid JSON: a comma before '}' (JSON allows none) (column 19)",
        ],
      },
    ],
  ];
  for (const [name, setup, env, want] of rows) {
    test(name, async () => {
      expect(await runCheck(setup, env)).toEqual(want);
    });
  }
});

describe("check --json", () => {
  test("says per environment which store was read, or why not", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "qdeploy-check-"));
    dirs.push(dir);
    await writeFile(path.join(dir, "deploy.toml"), TOML('{ store = "command", command = ["sops", "-d", "x"] }'));
    await writeFile(path.join(dir, "app.json"), APP_JSON);
    const out: string[] = [];
    const output = createOutput({ json: true, tty: true, color: false, errTty: false, errColor: false, write: (t) => out.push(t), writeErr: () => {} });
    const code = await check({ out: output, redactor: new Redactor(), configFile: path.join(dir, "deploy.toml"), lockWaitSec: 0 }, undefined, { HOME: dir });
    expect(code).toBe(2);
    const data = JSON.parse(out.join(""));
    expect(data.appJson).toEqual([
      { env: "prod", read: "secrets/prod.env.age" },
      { env: "ci", skipped: 'secrets.store "command" runs a program, which check does not; push reads it' },
    ]);
    expect(data.problems.map((p: { path: string }) => p.path)).toEqual(["env.SECRET_TOKEN", "env.STRIPE_KEY", "addons[0]"]);
  });
});
