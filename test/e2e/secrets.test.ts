/**
 * Secrets on the sandbox: set with `qdeploy secrets set`, they reach the app through the
 * release's env file and nowhere else (no argv on either side, no journal line, no output).
 */
import { beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanApp, makeProject, ok, onVm, qdeploy, type Run, sandbox, writeConfig } from "./harness.ts";

const MIN = 60_000;
let vm: SandboxInfo;
let dir: string;
let env: Record<string, string>;
const FIRST = `first-Secret-${crypto.randomUUID()}`;
const SECOND = `second-Secret-${crypto.randomUUID()}`;


/** The value of NAME in the live web process's environment, read by root on the VM. */
async function liveEnv(name: string): Promise<string | null> {
  const r = await onVm(vm, ["bash", "-c", `port=$(cat /srv/qdeploy/hello/live-slot); pid=$(systemctl show -P MainPID hello-web@$port.service); tr '\\0' '\\n' < /proc/$pid/environ | sed -n 's/^${name}=//p'`]);
  return r.stdout.trim() || null;
}

/** Runs f while watching every process's argv on the VM and here; returns what matched `needle`. */
async function watchArgv(needle: string, f: () => Promise<Run>): Promise<{ run: Run; seen: string[] }> {
  const seen: string[] = [];
  let watching = true;
  // The needle travels to the VM on stdin, so the watcher's own argv does not hold it.
  const remote = Bun.spawn(
    [...(await import("../../src/sandbox/index.ts")).sandboxSshArgv(vm, ["bash", "-c", 'read -r n; for i in $(seq 600); do grep -lF -- "$n" /proc/[0-9]*/cmdline 2>/dev/null; [ -e /tmp/stop-watch ] && break; sleep 0.05; done']),
    ],
    { stdin: new Blob([`${needle}\n`]), stdout: "pipe" },
  );
  await Bun.sleep(300);
  const local = (async () => {
    while (watching) {
      const ps = Bun.spawnSync(["ps", "-eo", "args"]).stdout.toString();
      for (const l of ps.split("\n")) if (l.includes(needle)) seen.push(`local: ${l}`);
      await Bun.sleep(50);
    }
  })();
  const run = await f();
  watching = false;
  await local;
  await onVm(vm, ["touch", "/tmp/stop-watch"]);
  const remoteHits = await new Response(remote.stdout).text();
  await onVm(vm, ["rm", "-f", "/tmp/stop-watch"]);
  for (const l of remoteHits.split("\n").filter(Boolean)) seen.push(`vm: ${l}`);
  return { run, seen };
}

beforeAll(async () => {
  vm = await sandbox();
  dir = makeProject("secrets");
  writeConfig(dir, vm, { stamp: "secrets-v1" });
  const key = Bun.spawnSync(["age-keygen"]).stdout.toString();
  env = { QDEPLOY_AGE_KEY: key, XDG_CONFIG_HOME: mkdtempSync(path.join(tmpdir(), "qdeploy-cfg-")) };
  await cleanApp(vm, "hello");
}, 10 * MIN);

test("a secret set from stdin reaches the app, and only through the 0600 env file", async () => {
  ok(await qdeploy(dir, ["secrets", "set", "sandbox", "API_TOKEN"], { env, stdin: `${FIRST}\n` }));
  const list = ok(await qdeploy(dir, ["secrets", "list", "sandbox"], { env }));
  expect(list.stdout.trim()).toBe("API_TOKEN");
  const { run, seen } = await watchArgv(FIRST, () => qdeploy(dir, ["push", "sandbox", "--verbose"], { env }));
  ok(run);
  expect(seen).toEqual([]);
  expect(run.stdout + run.stderr).not.toContain(FIRST);
  expect(await liveEnv("API_TOKEN")).toBe(FIRST);
  const modes = await onVm(vm, ["bash", "-c", "stat -c '%a %U' /srv/qdeploy/hello/releases/*/env | sort -u"]);
  expect(modes.stdout.trim()).toBe("600 root");
  // The value goes on stdin: a grep argv holding it would be a leak of the test's own making.
  const journal = await onVm(vm, ["bash", "-c", 'read -r n; journalctl --no-pager -o cat | grep -cF -- "$n" || true'], `${FIRST}\n`);
  expect(journal.stdout.trim()).toBe("0");
}, 6 * MIN);

test("the journal check can see a value that was logged (so the check above can fail)", async () => {
  const r = await onVm(vm, ["bash", "-c", "logger -t qdeploy-test canary-value-123; sleep 0.5; journalctl --no-pager -o cat | grep -cF canary-value-123"]);
  expect(Number(r.stdout.trim())).toBeGreaterThan(0);
}, MIN);

test("a secrets-only change makes a release without uploading a binary; rollback restores the old value", async () => {
  ok(await qdeploy(dir, ["secrets", "set", "sandbox", `API_TOKEN=${SECOND}`], { env }));
  const r = ok(await qdeploy(dir, ["push", "sandbox"], { env }));
  expect(r.stdout).toContain("nothing to upload");
  expect(r.stdout).toMatch(/live \(push [\d.]+s, 0 B sent\)/);
  expect(r.stdout + r.stderr).not.toContain(SECOND);
  expect(await liveEnv("API_TOKEN")).toBe(SECOND);
  ok(await qdeploy(dir, ["rollback", "sandbox"], { env }));
  expect(await liveEnv("API_TOKEN")).toBe(FIRST);
}, 6 * MIN);

test("the encrypted file in the repository does not hold the value in clear", async () => {
  const file = Bun.file(path.join(dir, "secrets/sandbox.env.age"));
  const bytes = Buffer.from(await file.arrayBuffer());
  expect(bytes.includes(Buffer.from(FIRST))).toBe(false);
  expect(bytes.includes(Buffer.from(SECOND))).toBe(false);
});
