/**
 * The end-to-end harness: one sandbox VM (started by the project's own code) shared by the
 * e2e suites, a throwaway project folder per suite, and the real CLI run as a user runs it.
 */
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { sandboxSshArgv, sandboxUp, type SandboxInfo } from "../../src/sandbox/index.ts";

export const REPO = path.resolve(import.meta.dir, "../..");
const QDEPLOY = path.join(REPO, "bin/qdeploy");

/** The shared sandbox VM: started if it is not running (another suite may have stopped it). */
export function sandbox(): Promise<SandboxInfo> {
  return sandboxUp({ projectDir: REPO, log: (l) => console.log(`[sandbox] ${l}`) });
}

/** A throwaway copy of examples/hello with a deploy.toml for the sandbox. */
export function makeProject(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `qdeploy-e2e-${name}-`));
  cpSync(path.join(REPO, "examples/hello"), dir, { recursive: true });
  return dir;
}

export interface ProjectConfig {
  stamp?: string;
  env?: Record<string, string>;
  extra?: string;
  ssh?: { identity?: string; known_hosts?: string };
  workers?: number;
  healthTimeout?: string;
}

/** Writes the project's deploy.toml aimed at the sandbox. */
export function writeConfig(dir: string, info: SandboxInfo, c: ProjectConfig = {}): void {
  const env = Object.entries(c.env ?? {}).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n");
  writeFileSync(
    path.join(dir, "deploy.toml"),
    `app = "hello"

[build]
main = "./cmd/hello"
stamp = { symbol = "main.version", value = ${JSON.stringify(c.stamp ?? "v1")} }

[processes]
web = "hello serve"
worker = "hello work"

[web]
domains = ["hello.localhost"]
health = "/healthz"
tls = "internal"
drain = "20s"
health_timeout = "${c.healthTimeout ?? "20s"}"

[scale]
worker = ${c.workers ?? 2}

[restart]
at = "Sun *-*-* 04:00:00"
jitter = "15m"

[[jobs]]
name = "cleanup"
command = "hello cleanup"
at = "hourly"

[env]
LOG_LEVEL = "info"
${env}

[environments.sandbox]
hosts = ["root@127.0.0.1:${info.sshPort}"]
ssh = { identity = ${JSON.stringify(c.ssh?.identity ?? info.identity)}, known_hosts = ${JSON.stringify(c.ssh?.known_hosts ?? info.knownHosts)} }
${c.extra ?? ""}
`,
  );
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs the real CLI in `cwd`. */
export async function qdeploy(cwd: string, args: string[], opts: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  const t = performance.now();
  const p = Bun.spawn([QDEPLOY, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr, seconds: (performance.now() - t) / 1000 };
}

/** GET https://hello.localhost/PATH through Caddy on the sandbox (SNI set, internal CA). */
export async function get(info: SandboxInfo, urlPath = "/", domain = "hello.localhost"): Promise<{ status: number; body: string }> {
  const p = Bun.spawn(
    ["curl", "-sSk", "--max-time", "30", "--resolve", `${domain}:${info.httpsPort}:127.0.0.1`, "-w", "\n%{http_code}", `https://${domain}:${info.httpsPort}${urlPath}`],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  await p.exited;
  const cut = out.lastIndexOf("\n");
  const status = Number(out.slice(cut + 1)) || 0;
  // On a failed connection curl's own error is the body, so a test failure says what happened.
  return { status, body: status ? out.slice(0, cut) : err.trim() };
}

/** Runs a command on the sandbox as root with the system ssh client. */
export async function onVm(info: SandboxInfo, command: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(sandboxSshArgv(info, command), { stdout: "pipe", stderr: "pipe", stdin: stdin === undefined ? "ignore" : new Blob([stdin]) });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** Requests the site in a loop until stop() is called; counts what failed. */
export function keepRequesting(info: SandboxInfo, urlPath = "/") {
  let running = true;
  const results = { ok: 0, failed: [] as string[] };
  const loop = (async () => {
    while (running) {
      const r = await get(info, urlPath);
      if (r.status >= 200 && r.status < 300) results.ok++;
      else results.failed.push(`${r.status} ${r.body.slice(0, 80)}`);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return results;
    },
  };
}
