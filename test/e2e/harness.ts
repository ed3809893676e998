/**
 * The end-to-end harness: one sandbox VM (started by the project's own code) shared by every
 * e2e suite of one `bun test` run, a throwaway project folder per suite, and the real CLI
 * run as a user runs it.
 *
 * One boot for the whole run: bun runs all test files in one process. The first suite's
 * sandbox() boots the VM (or attaches to one already running); later suites attach to it;
 * test/preload.ts (bunfig.toml) stops it once after the last file. So a suite:
 *   - calls `vm = await sandbox()` in its beforeAll (it waits until the VM has booted, so a
 *     suite after one that power-cycled the VM, as deploy.test.ts does, finds it ready);
 *   - deploys its own app name (`writeConfig(dir, vm, { app: "mysuite" })`, domain
 *     `mysuite.localhost`, get(vm, "/", "mysuite.localhost")), so suites never share state;
 *   - cleans its own app first (`await cleanApp(vm, "mysuite")`): a suite may run after any
 *     other, or on a VM an earlier run left behind;
 *   - never calls sandboxDown (the next suite would boot a new VM); `vm = await
 *     powerCycle(vm)` when it checks what survives a reboot.
 * A fleet suite calls `vms = await fleet(3)` instead (VM 1 is the shared VM, VMs 2..3 boot
 * beside it), writeFleetConfig for the environment `fleet`, and fleetDown() in its afterAll.
 * Run one file with `npx bun test test/e2e/FILE`; the VM is stopped at the end either way.
 * `npm test` (test/run.ts) instead runs each file as its own bun test in one of two lanes, each
 * lane with its own VM (QDEPLOY_E2E_PROJECT, ports shifted), kept up between files
 * (QDEPLOY_E2E_KEEP_VM) and stopped at the end: a suite must not assume it runs after another,
 * and finds no app of an earlier one (test/preload.ts removes them all after each file).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { $ } from "zx";
import { processAlive } from "../../src/sandbox/qemu.ts";
import { sandboxFleetStatus, sandboxFleetUp, sandboxSshArgv, sandboxStopVm, sandboxUp, type SandboxInfo } from "../../src/sandbox/index.ts";
import { realDeps, type ServeDeps } from "../../src/serve/deps.ts";
import { type RunningServer, startServer } from "../../src/serve/serve.ts";

export const REPO = path.resolve(import.meta.dir, "../..");
/**
 * Where the shared VM's state lives: the repository's own sandbox, or a lane's folder when
 * `npm test` runs the suites in lanes at once (test/run.ts), each lane with its own VM.
 */
export const SANDBOX_PROJECT = process.env.QDEPLOY_E2E_PROJECT || REPO;
const QDEPLOY = path.join(REPO, "bin/qdeploy");

/** The e2e VM's probe port when QDEPLOY_SANDBOX_PROBE_PORT does not name one (127.0.0.1 only). */
const E2E_PROBE_PORT = 8999;

/** Set once this process used the shared VM; test/preload.ts then stops it after the last file. */
export const SANDBOX_USED = Symbol.for("qdeploy.e2e.sandbox-used");

/**
 * ssh options that run every onVm of a VM over one connection, kept 30 s after the last: a
 * login costs the emulated guest ~1.3 s of CPU (sshd's re-exec, key exchange, PAM; measured
 * 10 logins: 13 s, over one connection 1.1 s), and the e2e make hundreds. A VM that powered
 * off takes its connection with it; the next call finds the socket dead and starts another.
 */
function sharedConnection(info: SandboxInfo): string[] {
  const socket = path.join(tmpdir(), `qdeploy-e2e-ssh-${process.getuid?.() ?? 0}-${info.sshPort}`);
  return ["-o", "ControlMaster=auto", "-o", `ControlPath=${socket}`, "-o", "ControlPersist=30", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"];
}

/** The shared sandbox VM: booted on first use in this run, else attached to; returns once systemd has finished booting. */
export async function sandbox(): Promise<SandboxInfo> {
  (globalThis as Record<symbol, unknown>)[SANDBOX_USED] = true;
  // The firewall suite reaches a guest port around Caddy through the probe port.
  const probePort = Number(process.env.QDEPLOY_SANDBOX_PROBE_PORT) || E2E_PROBE_PORT;
  const info = await sandboxUp({ projectDir: SANDBOX_PROJECT, probePort, log: (l) => console.log(`[sandbox] ${l}`) });
  // SSH answers before every unit has started (Caddy, say) after a reboot by an earlier suite.
  const booted = await onVm(info, ["systemctl", "is-system-running", "--wait"]);
  if (!["running", "degraded"].includes(booted.stdout.trim())) {
    throw new Error(`the sandbox did not finish booting: systemctl is-system-running says ${JSON.stringify(booted.stdout.trim())} ${booted.stderr.trim()}`);
  }
  return info;
}

/**
 * Turns the VM off and boots it again on the same disk, and returns once systemd has finished
 * booting. The guest shuts down as at a reboot (systemd stops every unit), so what the e2e
 * checks after one (enabled units, files on disk, the firewall at boot) is proven the same
 * way, in ~25 s: a reboot from inside the guest takes ~60 s under TCG (measured: after QEMU's
 * reset the kernel and userspace each boot ~1.6x slower). test/sandbox.test.ts still reboots
 * the guest itself, which is what it tests.
 */
export async function powerCycle(info: SandboxInfo): Promise<SandboxInfo> {
  if (!info.pid) throw new Error(`powerCycle: sandbox VM ${info.vm} has no pid`);
  await onVm(info, ["systemctl", "poweroff"]); // the connection may drop: the exit code does not matter
  const deadline = Date.now() + 3 * 60_000;
  while (processAlive(info.pid)) {
    if (Date.now() > deadline) throw new Error(`powerCycle: QEMU (pid ${info.pid}) still runs 3 min after the guest's poweroff`);
    await Bun.sleep(250);
  }
  return await sandbox();
}

/**
 * A fleet of n sandbox VMs for the fleet suites: VM 1 is the shared e2e VM (as sandbox()
 * returns it), VMs 2..n boot beside it in parallel (or are attached to); returns them in VM
 * order once systemd has finished booting on each. Call fleetDown() in the suite's afterAll:
 * the extra VMs take the cores every other suite needs (test/preload.ts stops them too).
 */
export async function fleet(n = 3): Promise<SandboxInfo[]> {
  (globalThis as Record<symbol, unknown>)[SANDBOX_USED] = true;
  const probePort = Number(process.env.QDEPLOY_SANDBOX_PROBE_PORT) || E2E_PROBE_PORT;
  const vms = await sandboxFleetUp({ projectDir: SANDBOX_PROJECT, hosts: n, probePort, log: (l) => console.log(`[sandbox] ${l}`) });
  await Promise.all(
    vms.map(async (info) => {
      const booted = await onVm(info, ["systemctl", "is-system-running", "--wait"]);
      if (!["running", "degraded"].includes(booted.stdout.trim())) {
        throw new Error(`sandbox VM ${info.vm} did not finish booting: systemctl is-system-running says ${JSON.stringify(booted.stdout.trim())} ${booted.stderr.trim()}`);
      }
    }),
  );
  return vms;
}

/** Stops the fleet's VMs 2..n and keeps VM 1, which the other suites share. */
export async function fleetDown(): Promise<void> {
  const opts = { projectDir: SANDBOX_PROJECT, log: (l: string) => console.log(`[sandbox] ${l}`) };
  const others = (await sandboxFleetStatus(opts)).filter((i) => i.vm > 1);
  await Promise.all(others.map((i) => sandboxStopVm(opts, i.vm)));
}

/**
 * Removes every trace of `app` from the VM (test/e2e/clean-app.sh): its units (stopped,
 * disabled, deleted), its directory and its Caddy site. Units are found by the app directory
 * they run from, so another app whose name starts the same ("hello-api") is never touched.
 */
export async function cleanApp(info: SandboxInfo, app: string): Promise<void> {
  if (!/^[a-z][a-z0-9-]*$/.test(app)) throw new Error(`cleanApp: bad app name ${JSON.stringify(app)}`);
  const r = await onVm(info, ["bash", "-s", "--", app], readFileSync(path.join(import.meta.dir, "clean-app.sh"), "utf8"));
  if (r.code !== 0) throw new Error(`cleanApp ${app} on the sandbox exited ${r.code}: ${r.stderr.trim()}`);
}

/**
 * Removes every app from the VM, as cleanApp does one. Under `npm test` each file ends with it
 * (test/preload.ts): the apps a file leaves would otherwise keep running on the shared VM, and
 * every later file would pay for their processes (web slots, workers, timers) on an emulated CPU.
 */
export async function cleanAllApps(info: SandboxInfo): Promise<void> {
  const r = await onVm(info, ["bash", "-s"], readFileSync(path.join(import.meta.dir, "clean-app.sh"), "utf8"));
  if (r.code !== 0) throw new Error(`cleaning every app off the sandbox exited ${r.code}: ${r.stderr.trim()}`);
}

/** A throwaway copy of examples/hello with a deploy.toml for the sandbox. */
export function makeProject(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `qdeploy-e2e-${name}-`));
  cpSync(path.join(REPO, "examples/hello"), dir, { recursive: true });
  return dir;
}

/**
 * A throwaway git repository holding a copy of examples/EXAMPLE with the deploy.toml `qdeploy
 * init` writes, its app renamed to `app` and then changed by `edit`, committed.
 */
export function initProject(example: string, app: string, edit: (toml: string) => string = (t) => t): string {
  const dir = mkdtempSync(path.join(tmpdir(), `qdeploy-e2e-${app}-`));
  cpSync(path.join(REPO, "examples", example), dir, { recursive: true });
  const run = (cmd: string[]) => {
    const r = Bun.spawnSync(cmd, { cwd: dir, stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  };
  const git = (...args: string[]) => run(["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.com", ...args]);
  git("init", "-q");
  run([QDEPLOY, "init"]);
  const file = path.join(dir, "deploy.toml");
  writeFileSync(file, edit(readFileSync(file, "utf8").replace(/^app = "[^"]*"/m, `app = "${app}"`)));
  git("add", ".");
  git("commit", "-qm", "the app, and qdeploy init");
  return dir;
}

export interface ProjectConfig {
  /** The app name (default "hello"); its domain is APP.localhost. */
  app?: string;
  stamp?: string;
  env?: Record<string, string>;
  extra?: string;
  /** persist: ssh.persist (default: none written, qdeploy's default). */
  ssh?: { identity?: string; known_hosts?: string; persist?: string };
  workers?: number;
  /**
   * web.health_timeout (default 60s, qdeploy's own: at a busy hour a slot on the emulated CPU
   * was seen to log "listening" only after 20 s, the value before). A test that expects a
   * failing health check gives a short one, as that check waits all of it.
   */
  healthTimeout?: string;
  /** web.standby (default: none written, qdeploy's default). */
  standby?: string;
  /** More domains after APP.localhost. */
  domains?: string[];
}

/** Writes the project's deploy.toml aimed at the sandbox. */
export function writeConfig(dir: string, info: SandboxInfo, c: ProjectConfig = {}): void {
  const env = Object.entries(c.env ?? {}).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n");
  writeFileSync(
    path.join(dir, "deploy.toml"),
    `app = ${JSON.stringify(c.app ?? "hello")}

[build]
main = "./cmd/hello"
stamp = { symbol = "main.version", value = ${JSON.stringify(c.stamp ?? "v1")} }

[processes]
web = "hello serve"
worker = "hello work"

[web]
domains = [${[`${c.app ?? "hello"}.localhost`, ...(c.domains ?? [])].map((d) => JSON.stringify(d)).join(", ")}]
health = "/healthz"
tls = "internal"
drain = "20s"
health_timeout = "${c.healthTimeout ?? "60s"}"
${c.standby === undefined ? "" : `standby = ${JSON.stringify(c.standby)}\n`}
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
ssh = { identity = ${JSON.stringify(c.ssh?.identity ?? info.identity)}, known_hosts = ${JSON.stringify(c.ssh?.known_hosts ?? info.knownHosts)}${c.ssh?.persist === undefined ? "" : `, persist = ${JSON.stringify(c.ssh.persist)}`} }
${c.extra ?? ""}
`,
  );
}

export interface FleetConfig extends ProjectConfig {
  /** Role (process name) -> VM numbers (1-based, as SandboxInfo.vm); without it `hosts` lists every VM. */
  roles?: Record<string, number[]>;
}

/**
 * Writes the project's deploy.toml aimed at a fleet of sandbox VMs: the app as writeConfig
 * writes it (its text, cut before [environments.sandbox], so the two never drift), then the
 * environment `fleet` with its hosts per role (or `hosts` = every VM), `c.extra` inside
 * [environments.fleet] (a header in it starts a table of its own, as in writeConfig).
 */
export function writeFleetConfig(dir: string, vms: SandboxInfo[], c: FleetConfig = {}): void {
  const host = (info: SandboxInfo) => JSON.stringify(`root@127.0.0.1:${info.sshPort}`);
  const vm = (n: number) => {
    const info = vms.find((v) => v.vm === n);
    if (!info) throw new Error(`writeFleetConfig: no VM ${n} among ${vms.map((v) => v.vm).join(", ")}`);
    return info;
  };
  const roles = c.roles && Object.entries(c.roles).map(([role, ns]) => `${role} = [${ns.map((n) => host(vm(n))).join(", ")}]`);
  writeConfig(dir, vms[0]!, { ...c, extra: "" });
  const file = path.join(dir, "deploy.toml");
  const app = readFileSync(file, "utf8").split("\n[environments.sandbox]\n")[0]!;
  writeFileSync(
    file,
    `${app}
[environments.fleet]
${roles ? "" : `hosts = [${vms.map(host).join(", ")}]\n`}ssh = { identity = ${JSON.stringify(c.ssh?.identity ?? vms[0]!.identity)}, known_hosts = ${JSON.stringify(c.ssh?.known_hosts ?? vms[0]!.knownHosts)} }
${c.extra ?? ""}
${roles ? `[environments.fleet.roles]\n${roles.join("\n")}\n` : ""}`,
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

/** Fails a test with qdeploy's own output unless it exited 0. */
export function ok(r: Run): Run {
  if (r.code !== 0) throw new Error(`qdeploy exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Runs a long-lived qdeploy command (logs -f) until its stdout matches `until` or `ms` pass, then stops it; returns what it printed. */
export async function qdeployUntil(cwd: string, args: string[], until: RegExp, ms = 30_000): Promise<string> {
  const p = Bun.spawn([QDEPLOY, ...args], { cwd, env: { ...process.env, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
  const reader = p.stdout.getReader();
  let seen = "";
  const deadline = Date.now() + ms;
  while (!until.test(seen) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += new TextDecoder().decode(value);
  }
  p.kill();
  await p.exited;
  return seen;
}

/** GET https://DOMAIN/PATH (default hello.localhost) through Caddy on the sandbox (SNI set, internal CA). */
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
  const [ssh, ...rest] = sandboxSshArgv(info, command);
  const p = Bun.spawn([ssh!, ...sharedConnection(info), ...rest], { stdout: "pipe", stderr: "pipe", stdin: stdin === undefined ? "ignore" : new Blob([stdin]) });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** Runs a bash script on the sandbox as root; its stdout, or an error with its exit code and output. */
export async function onVmOk(info: SandboxInfo, script: string): Promise<string> {
  const r = await onVm(info, ["bash", "-c", script]);
  if (r.code !== 0) throw new Error(`on the VM: ${script}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Requests the site in a loop until stop() is called; counts what failed. */
export function keepRequesting(info: SandboxInfo, urlPath = "/", domain = "hello.localhost", gapMs = 0) {
  let running = true;
  // bodies: each answer's body where it differs from the one before (what served, in order);
  // failedAt: when each failure was asked, in ms since the loop began.
  const results = { ok: 0, failed: [] as string[], failedAt: [] as number[], bodies: [] as string[] };
  const t0 = performance.now();
  const loop = (async () => {
    while (running) {
      const asked = performance.now() - t0;
      const r = await get(info, urlPath, domain);
      if (results.bodies.at(-1) !== r.body) results.bodies.push(r.body);
      if (r.status >= 200 && r.status < 300) results.ok++;
      else {
        results.failed.push(`${r.status} ${r.body.slice(0, 80)}`);
        results.failedAt.push(asked);
      }
      if (gapMs) await Bun.sleep(gapMs);
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

/**
 * keepRequesting on every VM at once (each its own loop through its own Caddy), for a load
 * that must see no failure on any web host; stop() returns each VM's results in `vms` order.
 */
export function keepRequestingEach(vms: SandboxInfo[], urlPath = "/", domain = "hello.localhost", gapMs = 0) {
  const loops = vms.map((vm) => keepRequesting(vm, urlPath, domain, gapMs));
  return {
    async stop() {
      return await Promise.all(loops.map((l) => l.stop()));
    },
  };
}

/**
 * A throwaway CA and a server certificate it signed for drain.test (a log drain's receiver in
 * the tests), made with openssl: PEM text of the CA's certificate, the server's key and chain.
 */
export function makeDrainPki(): { ca: string; key: string; cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-e2e-pki-"));
  const openssl = (...args: string[]) => {
    const r = Bun.spawnSync(["openssl", ...args], { cwd: dir, stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} (the drain test needs openssl: apt-get install openssl): ${r.stderr.toString()}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  openssl("req", "-x509", ...ec, "-days", "2", "-subj", "/CN=qdeploy e2e drain CA", "-keyout", "ca.key", "-out", "ca.pem", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign");
  openssl("req", ...ec, "-subj", "/CN=drain.test", "-keyout", "server.key", "-out", "server.csr");
  writeFileSync(path.join(dir, "server.ext"), "subjectAltName=DNS:drain.test\nextendedKeyUsage=serverAuth\n");
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", "server.pem", "-extfile", "server.ext");
  const read = (f: string) => readFileSync(path.join(dir, f), "utf8");
  const out = { ca: read("ca.pem"), key: read("server.key"), cert: read("server.pem") };
  rmSync(dir, { recursive: true, force: true });
  return out;
}

/**
 * `qdeploy serve` for dir's deploy.toml, in this process with its real deps (SSH, git, the
 * secret store: an env store reads this process's environment), on a free loopback port.
 */
export async function serveInProcess(dir: string): Promise<{ deps: ServeDeps; server: RunningServer; stop(): Promise<void> }> {
  const deps = await realDeps({ configFile: path.join(dir, "deploy.toml"), tokenFile: path.join(dir, ".qdeploy", "tokens.json") });
  const server = startServer(deps, { host: "127.0.0.1", port: 0 });
  return { deps, server, stop: async () => (await server.stop(), await deps.close?.()) };
}

/** zx's $ in folder `cwd`, quiet, with a committer set: git in a test's repository. */
export function gitIn(cwd: string) {
  return $({ cwd, quiet: true, env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } });
}
