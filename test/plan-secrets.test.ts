/** `qdeploy plan` with secrets: names only, never a value, whatever the value holds. */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const REPO = path.resolve(import.meta.dir, "..");
const QDEPLOY = path.join(REPO, "bin/qdeploy");
const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-plan-secrets-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A PEM-like value: its lines look like names, one has an "=" in it.
const PEM = [
  "-----BEGIN PRIVATE KEY-----",
  "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
  "ZmFrZWtleWxpbmV0d28K=",
  "-----END PRIVATE KEY-----",
].join("\n");

writeFileSync(
  path.join(dir, "deploy.toml"),
  [
    'app = "pemplan"',
    "[build]",
    `dir = ${JSON.stringify(path.join(REPO, "examples/hello"))}`,
    'main = "./cmd/hello"',
    'binary = "hello"',
    "[processes]",
    'web = "hello serve"',
    "[web]",
    'domains = ["pem.example.com"]',
    'health = "/healthz"',
    "[env]",
    'LOG_LEVEL = "info"',
    "[secrets]",
    'store = "env"',
    'names = ["TLS_KEY", "DB_PASSWORD"]',
    "[environments.prod]",
    'hosts = ["root@192.0.2.1"]', // TEST-NET-1: plan must never reach it
  ].join("\n"),
);

function plan(...flags: string[]) {
  const p = Bun.spawnSync([QDEPLOY, "plan", "prod", ...flags], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: "1", TLS_KEY: PEM, DB_PASSWORD: "hunter2-password" },
  });
  return { code: p.exitCode, all: p.stdout.toString() + p.stderr.toString() };
}

test("plan lists a multi-line secret by name and prints none of its lines", () => {
  const r = plan();
  expect(r.code).toBe(0);
  expect(r.all).toContain("| (5 variables: DB_PASSWORD, LOG_LEVEL, QDEPLOY_APP, QDEPLOY_ENV, TLS_KEY; values not shown)");
  for (const line of [...PEM.split("\n"), "hunter2-password", "MIIEvQ", "ZmFrZWtleWxpbmV0d28K"]) expect(r.all).not.toContain(line);
}, 180_000); // a cold Go cache cross-compiles the standard library first

test("plan --json shows no secret value either", () => {
  const r = plan("--json");
  expect(r.code).toBe(0);
  for (const line of [...PEM.split("\n"), "hunter2-password"]) expect(r.all).not.toContain(line);
  expect(r.all).not.toContain(JSON.stringify(PEM).slice(1, -1));
}, 180_000);
