/**
 * The CI recipe (issue 27): examples/ci/deploy.sh run as a CI job runs it, in a clean
 * environment (a fresh HOME, no Bun, no checkout on PATH). It installs the packed tarball,
 * writes the deploy key and known_hosts from the job's variables, takes the age identity from
 * QDEPLOY_AGE_KEY, pushes examples/hello to the sandbox VM with --json and writes the job
 * summary; a release that fails its health check exits non-zero with a summary that says so,
 * and the live one keeps serving.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanEnv, pack } from "../npm-pack.ts";
import { requireTool } from "../tools.ts";
import { cleanApp, get, makeProject, ok, qdeploy, REPO, sandbox, writeConfig } from "./harness.ts";

const MIN = 60_000;
const APP = "cihello";
const DOMAIN = `${APP}.localhost`;
const SECRET = "from-the-ci-secret-store";
let vm: SandboxInfo;
let work: string;
let dir: string;
let tarball: string;
let ageKey: string;

/** deploy.toml for the sandbox without [ssh]: the job's ~/.ssh is where the key and known_hosts go. */
function configure(stamp: string, env: Record<string, string> = {}, healthTimeout?: string): void {
  writeConfig(dir, vm, { app: APP, stamp, env, healthTimeout });
  const file = path.join(dir, "deploy.toml");
  writeFileSync(file, readFileSync(file, "utf8").replace(/^ssh = \{.*\}$/m, ""));
}

/** examples/ci/deploy.sh ENV as a CI job runs it: its exit status, output and summary. */
async function ciJob(): Promise<{ code: number; out: string; summary: string }> {
  const job = mkdtempSync(path.join(work, "job-"));
  const summary = path.join(job, "summary.md");
  const home = path.join(job, "home");
  mkdirSync(home);
  const env = {
    ...cleanEnv(home, "/nonexistent"),
    QDEPLOY_PACKAGE: tarball,
    QDEPLOY_SSH_KEY: readFileSync(vm.identity, "utf8"),
    QDEPLOY_KNOWN_HOSTS: readFileSync(vm.knownHosts, "utf8"),
    QDEPLOY_AGE_KEY: ageKey,
    GITHUB_STEP_SUMMARY: summary,
    RUNNER_TEMP: job,
  };
  const p = Bun.spawn([path.join(REPO, "examples/ci/deploy.sh"), "sandbox"], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  let written = "";
  try {
    written = readFileSync(summary, "utf8");
  } catch {}
  return { code, out: out + err, summary: written };
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "qdeploy-ci-"));
  tarball = pack(work).tarball;
  vm = await sandbox();
  await cleanApp(vm, APP);
  dir = makeProject(APP);
  configure("ci-v1");
  ageKey = Bun.spawnSync([requireTool("age-keygen")]).stdout.toString();
  // The secret goes into the repository encrypted (secrets/sandbox.env.age), as a developer commits it.
  ok(await qdeploy(dir, ["secrets", "set", "sandbox", "APP_MESSAGE"], { env: { QDEPLOY_AGE_KEY: ageKey }, stdin: `${SECRET}\n` }));
}, 5 * MIN);

afterAll(() => work && rmSync(work, { recursive: true, force: true }));

describe("examples/ci/deploy.sh, as a CI job", () => {
  test("installs the tarball, deploys with the job's key, known_hosts and age identity, exits 0 and writes the summary", async () => {
    const r = await ciJob();
    if (r.code !== 0) throw new Error(`deploy.sh exited ${r.code}:\n${r.out}`);
    expect(r.summary).toMatch(/^### qdeploy push sandbox: \d{14} live\n1 host\(s\) in [\d.]+ s \(build [\d.]+ s\)\n/);
    expect(r.summary).toMatch(/\| root@127\.0\.0\.1:\d+ \| live \| \d{14} \| \d+ B \|/);
    expect(r.summary).toContain(`\nhttps://${DOMAIN}/\n`); // a job knows no sandbox ports: the domain as configured
    expect((await get(vm, "/", DOMAIN)).body).toBe(`hello from ci-v1 (${SECRET})\n`);
    // The key and the secret stayed out of what the job printed.
    expect(r.out).not.toContain(SECRET);
    expect(r.out).not.toContain("PRIVATE KEY");
  }, 5 * MIN);

  test("a release that fails its health check: a non-zero exit, a summary that says so, the live release still serving", async () => {
    configure("ci-v2", { HELLO_FAIL_HEALTH: "1" }, "20s");
    const r = await ciJob();
    expect(r.code).not.toBe(0);
    expect(r.summary).toStartWith(`### qdeploy push sandbox: failed (exit ${r.code})\n`);
    expect(r.summary).toContain("the live release keeps serving");
    expect(r.summary).toContain("health");
    expect((await get(vm, "/", DOMAIN)).body).toBe(`hello from ci-v1 (${SECRET})\n`);
  }, 5 * MIN);

  test("without the key it stops before installing anything, naming the variable", async () => {
    const p = Bun.spawnSync([path.join(REPO, "examples/ci/deploy.sh"), "sandbox"], { cwd: dir, env: { PATH: "/usr/bin:/bin", HOME: work }, stdout: "pipe", stderr: "pipe" });
    expect(p.exitCode).not.toBe(0);
    expect(p.stderr.toString()).toContain("set QDEPLOY_SSH_KEY to the deploy key");
  });
});
