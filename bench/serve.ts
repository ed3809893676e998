/**
 * `GET /api/v1/environments/ENV/status` latency against a sandbox VM:
 *
 *     node_modules/.bin/bun bench/serve.ts [--keep-vm]
 *
 * Boots (or attaches to) its own sandbox VM (state in bench/.state-serve, ports from
 * QDEPLOY_SANDBOX_SSH_PORT/_HTTP_PORT/_HTTPS_PORT, default 2422/8280/8643), pushes
 * examples/hello to it with the CLI, starts `qdeploy serve`'s server in-process on a free
 * loopback port with the real deps (SSH), and makes BENCH_REQUESTS (20) status requests one
 * after another. Prints the first (cold: argon2id check, SSH connect) and p50/p95 of all.
 * The server keeps its SSH connection between requests (src/serve/pool.ts), so only the
 * first pays for connecting. Stops the VM at the end unless --keep-vm.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { sandboxDown, sandboxUp } from "../src/sandbox/index.ts";
import { realDeps } from "../src/serve/deps.ts";
import { startServer } from "../src/serve/serve.ts";
import { makeProject, ok, qdeploy, writeConfig } from "../test/e2e/harness.ts";

const STATE = path.join(import.meta.dir, ".state-serve");
const port = (name: string, dflt: number) => Number(process.env[`QDEPLOY_SANDBOX_${name}_PORT`] || dflt);
const PORTS = { sshPort: port("SSH", 2422), httpPort: port("HTTP", 8280), httpsPort: port("HTTPS", 8643) };
const REQUESTS = Number(process.env.BENCH_REQUESTS || 20);
const keepVm = process.argv.includes("--keep-vm");
const log = (l: string) => console.log(`${new Date().toISOString()} ${l}`);

/** The q-quantile of the sorted values (nearest rank). */
function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const sandboxOpts = { projectDir: STATE, ...PORTS, log: (l: string) => log(`[sandbox] ${l}`) };
try {
  const info = await sandboxUp(sandboxOpts);
  const dir = makeProject("bench-serve");
  writeConfig(dir, info);
  log("pushing examples/hello to the sandbox");
  const push = ok(await qdeploy(dir, ["push", "sandbox"]));
  log(`pushed (${push.stdout.trim().split("\n").at(-1)})`);

  const deps = await realDeps({ configFile: path.join(dir, "deploy.toml"), tokenFile: path.join(mkdtempSync(path.join(tmpdir(), "qdeploy-bench-serve-")), "tokens.json") });
  const { token } = await deps.tokens.add("bench", "read");
  const server = startServer(deps, { host: "127.0.0.1", port: 0 });
  const ms: number[] = [];
  try {
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      const res = await fetch(`${server.url}/api/v1/environments/sandbox/status`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as { ok: boolean; hosts?: { live: string | null; health: string | null }[] };
      ms.push(performance.now() - t);
      if (res.status !== 200 || !body.ok || !body.hosts?.[0]?.live) throw new Error(`status request ${i + 1}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    }
  } finally {
    await server.stop();
    await deps.close?.();
  }
  const sorted = [...ms].sort((a, b) => a - b);
  const f = (x: number) => `${x.toFixed(0)} ms`;
  console.log(`\nGET /api/v1/environments/sandbox/status, ${REQUESTS} requests in a row (1 host, QEMU TCG VM on loopback):`);
  console.log(`  first (cold) ${f(ms[0]!)}; p50 ${f(quantile(sorted, 0.5))}; p95 ${f(quantile(sorted, 0.95))}; min ${f(sorted[0]!)}; max ${f(sorted.at(-1)!)}`);
} finally {
  if (!keepVm) await sandboxDown(sandboxOpts).catch((e: Error) => log(`sandbox down failed: ${e.message}`));
}
