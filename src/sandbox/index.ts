/**
 * The local sandbox: a disposable Debian bookworm VM under QEMU (systemd, sshd, Caddy) with its
 * ports on 127.0.0.1 only. The image is built once and cached; each project runs it on its own
 * copy-on-write disk in `.qdeploy/sandbox/`, with its own root key and a host key known in advance.
 *
 * Environment: QDEPLOY_SANDBOX_SSH_PORT / _HTTP_PORT / _HTTPS_PORT (defaults 2222, 8080, 8443),
 * QDEPLOY_SANDBOX_PROBE_PORT (off by default): a host port forwarded to the guest's port 8999,
 * for tests that reach a listener around Caddy (the firewall's).
 * QDEPLOY_SANDBOX_ACCEL=kvm to try KVM (default TCG), QDEPLOY_SANDBOX_TIMEOUT (boot wait, seconds).
 */
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { OperationError } from "../errors.ts";
import { quoteArgv } from "../util/quote.ts";
import { ensureVmTools } from "./host-tools.ts";
import { ensureSandboxImage, readHostKey } from "./image.ts";
import { checkPortsFree, createOverlay, runningQemuPid, startQemu, stopQemu } from "./qemu.ts";
import { waitUntilReady } from "./ready.ts";
import { runOk } from "./run.ts";

export { ensureSandboxImage } from "./image.ts";

/** Where the project lives, how to report progress, and optional port overrides. */
export interface SandboxOptions {
  projectDir: string;
  log?: (line: string) => void;
  sshPort?: number;
  httpPort?: number;
  httpsPort?: number;
  /** A host port forwarded to the guest's probe port (default: QDEPLOY_SANDBOX_PROBE_PORT, else none). */
  probePort?: number;
}

/** The sandbox's state and how to reach it; paths are absolute. */
export interface SandboxInfo {
  running: boolean;
  pid?: number;
  sshPort: number;
  httpPort: number;
  httpsPort: number;
  /** Forwarded to the guest's PROBE_GUEST_PORT, when the sandbox was started with one. */
  probePort?: number;
  identity: string;
  knownHosts: string;
  stateDir: string;
}

/** What a running sandbox was started with (`.qdeploy/sandbox/state.json`). */
interface SandboxState {
  imageDir: string;
  hostKey: string;
  sshPort: number;
  httpPort: number;
  httpsPort: number;
  probePort?: number;
}

const DEFAULT_PORTS = { ssh: 2222, http: 8080, https: 8443 };
const DEFAULT_TIMEOUT_S = 120;

/** Starts the sandbox and waits until root can log in; idempotent: if already running and reachable, returns at once. */
export async function sandboxUp(opts: SandboxOptions): Promise<SandboxInfo> {
  const log = opts.log ?? (() => {});
  const p = sandboxPaths(opts.projectDir);
  const pid = runningQemuPid(p.pidFile, p.overlay);
  if (pid) return await attach(opts, pid, log);

  await ensureVmTools(log);
  const image = await ensureSandboxImage(log);
  await mkdir(p.stateDir, { recursive: true, mode: 0o700 });
  const authorizedKey = await ensureIdentity(p.identity);
  const state: SandboxState = { imageDir: image.dir, hostKey: await readHostKey(image.dir), ...resolvePorts(opts) };
  await writeKnownHosts(p.knownHosts, state);
  await checkPortsFree({ ssh: state.sshPort, http: state.httpPort, https: state.httpsPort, ...(state.probePort && { probe: state.probePort }) });
  await prepareOverlay(p, state.imageDir, log);

  const accel = process.env.QDEPLOY_SANDBOX_ACCEL === "kvm" ? "kvm" : "tcg";
  log(`booting sandbox (${accel}, ssh 127.0.0.1:${state.sshPort}, http :${state.httpPort}, https :${state.httpsPort})...`);
  const started = performance.now();
  await rm(p.consoleLog, { force: true });
  const newPid = await startQemu({ ...state, ...p, authorizedKey, accel });
  await writeFile(p.stateFile, JSON.stringify(state, null, 2) + "\n");
  const info = toInfo(p, state, newPid);
  await waitUntilReady(readyCheck(info, newPid, log));
  log(`sandbox up in ${((performance.now() - started) / 1000).toFixed(1)}s (pid ${newPid})`);
  return info;
}

/** Stops QEMU and removes the overlay disk (keeps the key and the cached image). */
export async function sandboxDown(opts: SandboxOptions): Promise<void> {
  const log = opts.log ?? (() => {});
  const p = sandboxPaths(opts.projectDir);
  const pid = runningQemuPid(p.pidFile, p.overlay);
  if (pid) {
    await stopQemu(pid);
    log(`sandbox stopped (pid ${pid})`);
  }
  await Promise.all([p.overlay, p.pidFile, p.stateFile].map((f) => rm(f, { force: true })));
}

/** Whether the sandbox runs, with its pid, ports and key paths; touches nothing. */
export async function sandboxStatus(opts: SandboxOptions): Promise<SandboxInfo> {
  const p = sandboxPaths(opts.projectDir);
  const pid = runningQemuPid(p.pidFile, p.overlay);
  const state = pid ? await readState(p.stateFile) : undefined;
  const ports = state ?? resolvePorts(opts);
  return toInfo(p, ports, pid);
}

/** argv for the system `ssh` client into the VM as root, pinned to the sandbox's host key; `command` is quoted once here. */
export function sandboxSshArgv(info: SandboxInfo, command?: string[]): string[] {
  const argv = [
    "ssh",
    "-i", sshPath(info.identity),
    "-o", "IdentitiesOnly=yes",
    "-o", `UserKnownHostsFile=${sshPath(info.knownHosts)}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "StrictHostKeyChecking=yes",
    "-o", "BatchMode=yes",
    "-o", "ConnectTimeout=10",
    "-o", "LogLevel=ERROR",
    "-p", String(info.sshPort),
    "root@127.0.0.1",
  ];
  return command && command.length > 0 ? [...argv, "--", quoteArgv(command)] : argv;
}

/** ssh expands % and ~ in these options and splits UserKnownHostsFile on spaces. */
function sshPath(path: string): string {
  const escaped = path.replaceAll("%", "%%");
  return /\s/.test(escaped) ? `"${escaped}"` : escaped;
}

/** The sandbox's files under the project. */
interface SandboxPaths {
  stateDir: string;
  identity: string;
  knownHosts: string;
  overlay: string;
  pidFile: string;
  consoleLog: string;
  stateFile: string;
}

function sandboxPaths(projectDir: string): SandboxPaths {
  const stateDir = join(resolve(projectDir), ".qdeploy", "sandbox");
  return {
    stateDir,
    identity: join(stateDir, "id_ed25519"),
    knownHosts: join(stateDir, "known_hosts"),
    overlay: join(stateDir, "overlay.qcow2"),
    pidFile: join(stateDir, "qemu.pid"),
    consoleLog: join(stateDir, "console.log"),
    stateFile: join(stateDir, "state.json"),
  };
}

function toInfo(
  p: SandboxPaths,
  ports: { sshPort: number; httpPort: number; httpsPort: number; probePort?: number },
  pid: number | undefined,
): SandboxInfo {
  return {
    running: pid !== undefined,
    ...(pid !== undefined ? { pid } : {}),
    sshPort: ports.sshPort,
    httpPort: ports.httpPort,
    httpsPort: ports.httpsPort,
    ...(ports.probePort && { probePort: ports.probePort }),
    identity: p.identity,
    knownHosts: p.knownHosts,
    stateDir: p.stateDir,
  };
}

/** The sandbox already runs (started by us earlier or by another process): wait until it answers. */
async function attach(opts: SandboxOptions, pid: number, log: (l: string) => void): Promise<SandboxInfo> {
  const p = sandboxPaths(opts.projectDir);
  const state = await readState(p.stateFile);
  if (!state) {
    throw new OperationError(`a sandbox VM runs (pid ${pid}) but ${p.stateFile} is missing: run \`qdeploy sandbox down\`, then \`up\``);
  }
  const wanted = resolvePorts(opts);
  if (wanted.sshPort !== state.sshPort || wanted.httpPort !== state.httpPort || wanted.httpsPort !== state.httpsPort) {
    log(`sandbox already runs on ports ${state.sshPort}/${state.httpPort}/${state.httpsPort}; \`down\` first to change them`);
  }
  await writeKnownHosts(p.knownHosts, state);
  const info = toInfo(p, state, pid);
  await waitUntilReady(readyCheck(info, pid, log));
  log(`sandbox already running (pid ${pid}, ssh 127.0.0.1:${state.sshPort})`);
  return info;
}

function readyCheck(info: SandboxInfo, pid: number, log: (l: string) => void) {
  const seconds = Number(process.env.QDEPLOY_SANDBOX_TIMEOUT) || DEFAULT_TIMEOUT_S;
  return {
    sshPort: info.sshPort,
    ssh: (command: string[]) => sandboxSshArgv(info, command),
    consoleLog: join(info.stateDir, "console.log"),
    vmAlive: () => runningQemuPid(join(info.stateDir, "qemu.pid"), join(info.stateDir, "overlay.qcow2")) === pid,
    timeoutMs: seconds * 1000,
    log,
  };
}

/** A stopped VM's disk is kept (like a powered-off VPS) unless it sits on another base image. */
async function prepareOverlay(p: SandboxPaths, imageDir: string, log: (l: string) => void): Promise<void> {
  const previous = await readState(p.stateFile);
  if (existsSync(p.overlay) && previous?.imageDir === imageDir) {
    log("reusing the sandbox disk from the last run (`qdeploy sandbox down` gives a clean one)");
    return;
  }
  if (existsSync(p.overlay) && previous) log("the sandbox image changed: starting from a clean disk");
  await rm(p.overlay, { force: true });
  await createOverlay(imageDir, p.overlay);
}

/** Creates root's key for this project's sandbox if missing; returns its public key `ssh-ed25519 AAAA...`. */
async function ensureIdentity(identity: string): Promise<string> {
  if (!existsSync(identity)) {
    await runOk(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "qdeploy-sandbox", "-f", identity], "generating the sandbox key");
  }
  await chmod(identity, 0o600);
  const pub = await runOk(["ssh-keygen", "-y", "-f", identity], `reading the public key of ${identity}`);
  const [type, blob] = pub.stdout.trim().split(/\s+/);
  if (type !== "ssh-ed25519" || !blob) {
    throw new OperationError(`${identity} is not an ed25519 key: delete it and run \`qdeploy sandbox up\` again`);
  }
  return `${type} ${blob}`;
}

async function writeKnownHosts(path: string, state: SandboxState): Promise<void> {
  const host = state.sshPort === 22 ? "127.0.0.1" : `[127.0.0.1]:${state.sshPort}`;
  await writeFile(path, `${host} ${state.hostKey}\n`, { mode: 0o644 });
}

async function readState(file: string): Promise<SandboxState | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as SandboxState;
  } catch {
    return undefined;
  }
}

/** Options first, then QDEPLOY_SANDBOX_*_PORT, then the defaults. */
function resolvePorts(opts: SandboxOptions): { sshPort: number; httpPort: number; httpsPort: number; probePort?: number } {
  const probe = process.env.QDEPLOY_SANDBOX_PROBE_PORT;
  return {
    sshPort: pickPort("SSH", opts.sshPort, DEFAULT_PORTS.ssh),
    httpPort: pickPort("HTTP", opts.httpPort, DEFAULT_PORTS.http),
    httpsPort: pickPort("HTTPS", opts.httpsPort, DEFAULT_PORTS.https),
    ...((opts.probePort ?? probe) && { probePort: pickPort("PROBE", opts.probePort, 0) }),
  };
}

function pickPort(name: string, option: number | undefined, fallback: number): number {
  const env = `QDEPLOY_SANDBOX_${name}_PORT`;
  const raw = option ?? process.env[env] ?? fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    const where = option !== undefined ? `the ${name.toLowerCase()}Port option` : env;
    throw new OperationError(`bad sandbox ${name} port ${JSON.stringify(raw)} in ${where}: use a number from 1 to 65535`);
  }
  return port;
}
