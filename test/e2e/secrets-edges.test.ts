/**
 * Secrets edges on the sandbox (issue 8, items 2 and 13): a rollback whose release prints a
 * secret into its journal shows it redacted, and release.json's configDigest is keyed with
 * the host's root-only digest.key, which the first push leaves and later pushes reuse.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanApp, makeProject, ok, onVm, qdeploy, sandbox, writeConfig } from "./harness.ts";

const MIN = 60_000;
const APP = "secret-edges";
const TOKEN = `edge-Secret-${crypto.randomUUID()}`;
let vm: SandboxInfo;
let dir: string;
let env: Record<string, string>;


/** The harness's config under this file's own app name and domain, with `web` as the web command. */
function configure(web: string): void {
  writeConfig(dir, vm, { stamp: "edges-v1" });
  const file = path.join(dir, "deploy.toml");
  const text = readFileSync(file, "utf8")
    .replace('app = "hello"', `app = "${APP}"`)
    .replace('main = "./cmd/hello"', 'main = "./cmd/hello"\nbinary = "hello"')
    .replaceAll("hello.localhost", `${APP}.localhost`)
    .replace('web = "hello serve"', `web = ${JSON.stringify(web)}`);
  writeFileSync(file, text);
}

const releaseJson = async (id: string) =>
  JSON.parse((await onVm(vm, ["cat", `/srv/qdeploy/${APP}/releases/${id}/release.json`])).stdout);
const releaseIds = async () =>
  (await onVm(vm, ["bash", "-c", `ls /srv/qdeploy/${APP}/releases | sort`])).stdout.trim().split("\n").filter(Boolean);

/** Removes this file's app from the VM; other suites' apps keep running. */
const removeApp = () => cleanApp(vm, APP);

beforeAll(async () => {
  vm = await sandbox();
  dir = makeProject("secret-edges");
  env = { QDEPLOY_AGE_KEY: Bun.spawnSync(["age-keygen"]).stdout.toString(), XDG_CONFIG_HOME: mkdtempSync(path.join(tmpdir(), "qdeploy-cfg-")) };
  await removeApp();
  configure("hello serve");
  ok(await qdeploy(dir, ["secrets", "set", "sandbox", "API_TOKEN"], { env, stdin: `${TOKEN}\n` }));
}, 10 * MIN);

// A refused release's units would leave failed units behind for the next suite's boot check.
afterAll(() => removeApp(), MIN);

test("configDigest: keyed with a root-only digest.key the first push leaves; equal config, equal digest", async () => {
  ok(await qdeploy(dir, ["push", "sandbox"], { env }));
  const key = await onVm(vm, ["stat", "-c", "%a %U", `/srv/qdeploy/${APP}/digest.key`]);
  expect(key.stdout.trim()).toBe("600 root");
  ok(await qdeploy(dir, ["push", "sandbox"], { env })); // the same config again
  const [first, second] = await releaseIds();
  const a = await releaseJson(first!);
  const b = await releaseJson(second!);
  expect(a.configDigest).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
  expect(b.configDigest).toBe(a.configDigest); // the second push found and used the same key
  expect(JSON.stringify(a)).not.toContain(TOKEN);
}, 6 * MIN);

test("a rollback to a release that prints a secret into its journal shows it redacted", async () => {
  // A web process that writes the secret to stderr and never becomes healthy: its journal
  // tail is what a failed switch prints.
  configure(`/bin/sh -c 'echo "leaked: $API_TOKEN" >&2; exit 1'`);
  const refused = await qdeploy(dir, ["push", "sandbox"], { env });
  expect(refused.code).not.toBe(0);
  expect(refused.stdout + refused.stderr).not.toContain(TOKEN);
  const bad = (await releaseIds()).at(-1)!;

  configure("hello serve"); // deploy.toml as it was; the refused release is still on the host
  const r = await qdeploy(dir, ["rollback", "sandbox", bad], { env });
  expect(r.code).not.toBe(0);
  const all = r.stdout + r.stderr;
  expect(all).toContain("leaked: [redacted]"); // the journal tail was printed: the check can fail
  expect(all).not.toContain(TOKEN);

  const logs = ok(await qdeploy(dir, ["logs", "sandbox", "web", "--lines", "200"], { env }));
  expect(logs.stdout).toContain("leaked: [redacted]");
  expect(logs.stdout + logs.stderr).not.toContain(TOKEN);
}, 6 * MIN);
