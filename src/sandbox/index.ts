/**
 * The local sandbox: a disposable Debian bookworm VM under QEMU (systemd, sshd, Caddy) with its
 * ports on 127.0.0.1 only. The image is built once and cached; each project runs it on its own
 * copy-on-write disk in `.qdeploy/sandbox/`, with its own root key and a host key known in advance.
 *
 * A fleet (`sandbox up --hosts N`) adds VMs 2..N from the same image, each on its own disk in
 * `.qdeploy/sandbox/vmK/`, its ports the base ports + K-1, with the same root key and host key,
 * so one known_hosts file lists them all.
 *
 * Environment: QDEPLOY_SANDBOX_SSH_PORT / _HTTP_PORT / _HTTPS_PORT (defaults 2222, 8080, 8443),
 * QDEPLOY_SANDBOX_PROBE_PORT (off by default): a host port forwarded to the guest's port 8999,
 * for tests that reach a listener around Caddy (the firewall's).
 * QDEPLOY_SANDBOX_ACCEL=kvm to try KVM (default TCG), QDEPLOY_SANDBOX_TIMEOUT (boot wait, seconds),
 * QDEPLOY_SANDBOX_CPUS (VM 1's virtual CPUs, default 2).
 */
import { existsSync, readdirSync } from "node:fs";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { OperationError } from "../errors.ts";
import { quoteArgv } from "../util/quote.ts";
import { ensureVmTools } from "./host-tools.ts";
import { ensureSandboxImage, readHostKey } from "./image.ts";
import { checkPortsFree, createOverlay, MAX_FLEET_VMS, runningQemuPid, sandboxLanAddress, startQemu, stopQemu } from "./qemu.ts";
import { waitUntilReady } from "./ready.ts";
import { runOk } from "./run.ts";

export { ensureSandboxImage } from "./image.ts";

/** Where the project lives, how to report progress, and optional port overrides (VM 1's; VM k adds k-1). */
export interface SandboxOptions {
  projectDir: string;
  log?: (line: string) => void;
  sshPort?: number;
  httpPort?: number;
  httpsPort?: number;
  /** A host port forwarded to the guest's probe port (default: QDEPLOY_SANDBOX_PROBE_PORT, else none). */
  probePort?: number;
}

/** A fleet of `hosts` VMs: VM 1 is the plain sandbox, VMs 2..hosts sit beside it. */
export interface FleetOptions extends SandboxOptions {
  hosts: number;
}

export { MAX_FLEET_VMS };

/** The sandbox's state and how to reach it; paths are absolute. */
export interface SandboxInfo {
  /** 1 for the plain sandbox, k for `.qdeploy/sandbox/vmK/`. */
  vm: number;
  running: boolean;
  pid?: number;
  sshPort: number;
  httpPort: number;
  httpsPort: number;
  /** Forwarded to the guest's PROBE_GUEST_PORT, when the sandbox was started with one. */
  probePort?: number;
  /** Its address on the fleet's private network (10.99.0.VM), which the project's other VMs reach it at. */
  lanAddress: string;
  /** Root's key and the known_hosts file: one of each for every VM of the project. */
  identity: string;
  knownHosts: string;
  stateDir: string;
}

/** The host ports one VM forwards. */
export interface VmPorts {
  sshPort: number;
  httpPort: number;
  httpsPort: number;
  probePort?: number;
}

/** What a running sandbox was started with (`.qdeploy/sandbox/state.json`). */
interface SandboxState extends VmPorts {
  imageDir: string;
  hostKey: string;
}

const DEFAULT_PORTS = { ssh: 2222, http: 8080, https: 8443 };
const DEFAULT_TIMEOUT_S = 120;

/** Starts the sandbox (VM 1) and waits until root can log in; idempotent: if already running and reachable, returns at once. */
export async function sandboxUp(opts: SandboxOptions): Promise<SandboxInfo> {
  const [info] = await bootVms(opts, [1], false);
  return info!;
}

/**
 * Starts VMs 1..hosts at once (attaching to those already running; the image is built once)
 * and returns them in VM order when root can log in to every one. A VM that fails is named
 * with its ssh port; the others are left running (`sandbox down` stops them all).
 */
export async function sandboxFleetUp(opts: FleetOptions): Promise<SandboxInfo[]> {
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > MAX_FLEET_VMS) {
    throw new OperationError(`a sandbox fleet has 1 to ${MAX_FLEET_VMS} VMs, not ${JSON.stringify(opts.hosts)}`);
  }
  return await bootVms(opts, Array.from({ length: opts.hosts }, (_, i) => i + 1), opts.hosts > 1);
}

/** A VM about to boot: its files, what it is started with, and its name in messages. */
interface Boot {
  vm: number;
  name: string;
  paths: SandboxPaths;
  state: SandboxState;
}

async function bootVms(opts: SandboxOptions, vms: number[], fleet: boolean): Promise<SandboxInfo[]> {
  const log = opts.log ?? (() => {});
  const ports = fleetPorts(resolvePorts(opts), Math.max(...vms));
  const name = (vm: number) => (fleet || vm > 1 ? `sandbox VM ${vm}` : "the sandbox");
  const pids = new Map(vms.map((vm) => [vm, runningVmPid(sandboxPaths(opts.projectDir, vm))] as const));
  const boots: Boot[] = [];
  let authorizedKey = "";
  if (vms.some((vm) => !pids.get(vm))) {
    await ensureVmTools(log);
    const image = await ensureSandboxImage(log);
    const root = sandboxPaths(opts.projectDir, 1);
    await mkdir(root.stateDir, { recursive: true, mode: 0o700 });
    authorizedKey = await ensureIdentity(root.identity);
    const hostKey = await readHostKey(image.dir);
    // Every port is checked before any VM starts: a taken one fails the whole boot at once.
    for (const vm of vms.filter((v) => !pids.get(v))) {
      const p = sandboxPaths(opts.projectDir, vm);
      const state: SandboxState = { imageDir: image.dir, hostKey, ...ports[vm - 1]! };
      await checkPortsFree(portsToCheck(state), name(vm));
      boots.push({ vm, name: name(vm), paths: p, state });
    }
    for (const b of boots) {
      await mkdir(b.paths.stateDir, { recursive: true, mode: 0o700 });
      await prepareOverlay(b.paths, b.state.imageDir, log);
    }
  }
  await refreshKnownHosts(opts.projectDir, new Map(boots.map((b) => [b.vm, b.state])));
  const results = await Promise.allSettled(
    vms.map((vm) => {
      const boot = boots.find((b) => b.vm === vm);
      return boot ? startVm(boot, authorizedKey, vms.length, log) : attach(opts, vm, pids.get(vm)!, name(vm), ports[vm - 1]!, log);
    }),
  );
  const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
  if (failed.length === 1) throw failed[0];
  if (failed.length > 1) throw new OperationError(failed.map((e) => e.message).join("\n"));
  return results.map((r) => (r as PromiseFulfilledResult<SandboxInfo>).value);
}

async function startVm(b: Boot, authorizedKey: string, fleetSize: number, log: (l: string) => void): Promise<SandboxInfo> {
  const accel = process.env.QDEPLOY_SANDBOX_ACCEL === "kvm" ? "kvm" : "tcg";
  const { state, paths: p } = b;
  log(`booting ${b.name.replace(/^the /, "")} (${accel}, ssh 127.0.0.1:${state.sshPort}, http :${state.httpPort}, https :${state.httpsPort})...`);
  const started = performance.now();
  await rm(p.consoleLog, { force: true });
  const lan = { port: lanPort(state.sshPort - (b.vm - 1)), vm: b.vm };
  const newPid = await startQemu({ ...state, ...p, authorizedKey, accel, name: qemuName(b.vm), cpus: vmCpus(b.vm), lan });
  await writeFile(p.stateFile, JSON.stringify(state, null, 2) + "\n");
  const info = toInfo(b.vm, p, state, newPid);
  await waitUntilReady(readyCheck(info, newPid, b.name, fleetSize, log));
  log(`${b.name.replace(/^the /, "")} up in ${((performance.now() - started) / 1000).toFixed(1)}s (pid ${newPid})`);
  return info;
}

/** Stops every VM of the project (VM 1 and each vmK) and removes their overlay disks (keeps the key and the cached image). */
export async function sandboxDown(opts: SandboxOptions): Promise<void> {
  await Promise.all(projectVms(opts.projectDir).map((vm) => sandboxStopVm(opts, vm)));
}

/** Stops one VM of the project (1 = the plain sandbox) and removes its overlay disk. */
export async function sandboxStopVm(opts: SandboxOptions, vm: number): Promise<void> {
  const log = opts.log ?? (() => {});
  const p = sandboxPaths(opts.projectDir, vm);
  const pid = runningVmPid(p);
  if (pid) {
    await stopQemu(pid);
    log(`${vm === 1 ? "sandbox" : `sandbox VM ${vm}`} stopped (pid ${pid})`);
  }
  await Promise.all([p.overlay, p.pidFile, p.stateFile].map((f) => rm(f, { force: true })));
}

/** Whether VM `vm` (default 1, the plain sandbox) runs, with its pid, ports and key paths; touches nothing. */
export async function sandboxStatus(opts: SandboxOptions, vm = 1): Promise<SandboxInfo> {
  const p = sandboxPaths(opts.projectDir, vm);
  const pid = runningVmPid(p);
  const state = pid ? await readState(p.stateFile) : undefined;
  return toInfo(vm, p, state ?? fleetPorts(resolvePorts(opts), vm)[vm - 1]!, pid);
}

/** The status of VM 1 and of every other VM the project has a folder for, in VM order. */
export async function sandboxFleetStatus(opts: SandboxOptions): Promise<SandboxInfo[]> {
  return await Promise.all(projectVms(opts.projectDir).map((vm) => sandboxStatus(opts, vm)));
}

/**
 * The ports of VMs 1..n: VM k forwards each base port + k-1. Throws when two VMs would share
 * a port (one kind's range running into another's), naming both.
 */
export function fleetPorts(base: VmPorts, n: number): VmPorts[] {
  const fleet = Array.from({ length: n }, (_, i) => ({
    sshPort: base.sshPort + i,
    httpPort: base.httpPort + i,
    httpsPort: base.httpsPort + i,
    ...(base.probePort && { probePort: base.probePort + i }),
  }));
  const owner = new Map<number, string>();
  fleet.forEach((ports, i) => {
    for (const [kind, port] of Object.entries(ports)) {
      const what = `VM ${i + 1}'s ${kind.replace(/Port$/, "")} port`;
      if (port > 65535) throw new OperationError(`sandbox ${what} would be ${port}: lower the base port`);
      const other = owner.get(port);
      if (other) throw new OperationError(`sandbox ${what} and ${other} would both be ${port}: space the base ports at least ${n} apart`);
      owner.set(port, what);
    }
  });
  return fleet;
}

/** The known_hosts lines of these VMs (one host key, one line per VM's ssh port), in VM order. */
export function knownHostsText(states: Map<number, { sshPort: number; hostKey: string }>): string {
  return [...states.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, s]) => `${s.sshPort === 22 ? "127.0.0.1" : `[127.0.0.1]:${s.sshPort}`} ${s.hostKey}\n`)
    .join("");
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

/** VM 1's files sit in `.qdeploy/sandbox/`, VM k's in `.qdeploy/sandbox/vmK/`; the key and known_hosts are shared. */
function sandboxPaths(projectDir: string, vm = 1): SandboxPaths {
  const root = join(resolve(projectDir), ".qdeploy", "sandbox");
  const stateDir = vm === 1 ? root : join(root, `vm${vm}`);
  return {
    stateDir,
    identity: join(root, "id_ed25519"),
    knownHosts: join(root, "known_hosts"),
    overlay: join(stateDir, "overlay.qcow2"),
    pidFile: join(stateDir, "qemu.pid"),
    consoleLog: join(stateDir, "console.log"),
    stateFile: join(stateDir, "state.json"),
  };
}

/** VM 1 and every VM k with a `vmK` folder, in order. */
function projectVms(projectDir: string): number[] {
  const root = sandboxPaths(projectDir, 1).stateDir;
  const others = existsSync(root)
    ? readdirSync(root).flatMap((f) => (/^vm[2-9]$/.test(f) ? [Number(f.slice(2))] : []))
    : [];
  return [1, ...others.sort((a, b) => a - b)];
}

function runningVmPid(p: SandboxPaths): number | undefined {
  return runningQemuPid(p.pidFile, p.overlay);
}

/** QEMU's process name: VM 1 keeps the plain one. */
function qemuName(vm: number): string {
  return vm === 1 ? "qdeploy-sandbox" : `qdeploy-sandbox-vm${vm}`;
}

/**
 * The UDP port of a project's private network (its multicast group), from VM 1's ssh port:
 * projects with their own ports (the test lanes) get networks of their own.
 */
function lanPort(baseSshPort: number): number {
  return 20000 + (baseSshPort % 40000);
}

/**
 * VM 1 keeps 2 vCPUs (QDEPLOY_SANDBOX_CPUS); the others get 1: TCG vCPU threads beyond the
 * host's 2 cores only fight (measured, 3 VMs booting at once: 78s with 2 vCPUs each, 57s with
 * 1; one VM alone: 21s with 2, 33s with 1).
 */
function vmCpus(vm: number): number {
  if (vm > 1) return 1;
  const raw = process.env.QDEPLOY_SANDBOX_CPUS;
  if (!raw) return 2;
  const cpus = Number(raw);
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 8) throw new OperationError(`QDEPLOY_SANDBOX_CPUS must be a whole number 1..8, not ${JSON.stringify(raw)}`);
  return cpus;
}

function portsToCheck(s: VmPorts): Record<string, number> {
  return { ssh: s.sshPort, http: s.httpPort, https: s.httpsPort, ...(s.probePort && { probe: s.probePort }) };
}

function toInfo(vm: number, p: SandboxPaths, ports: VmPorts, pid: number | undefined): SandboxInfo {
  return {
    vm,
    running: pid !== undefined,
    ...(pid !== undefined ? { pid } : {}),
    sshPort: ports.sshPort,
    httpPort: ports.httpPort,
    httpsPort: ports.httpsPort,
    ...(ports.probePort && { probePort: ports.probePort }),
    lanAddress: sandboxLanAddress(vm),
    identity: p.identity,
    knownHosts: p.knownHosts,
    stateDir: p.stateDir,
  };
}

/** The VM already runs (started by us earlier or by another process): wait until it answers. */
async function attach(opts: SandboxOptions, vm: number, pid: number, name: string, wanted: VmPorts, log: (l: string) => void): Promise<SandboxInfo> {
  const p = sandboxPaths(opts.projectDir, vm);
  const state = await readState(p.stateFile);
  if (!state) {
    throw new OperationError(`${name} runs (pid ${pid}) but ${p.stateFile} is missing: run \`qdeploy sandbox down\`, then \`up\``);
  }
  if (wanted.sshPort !== state.sshPort || wanted.httpPort !== state.httpPort || wanted.httpsPort !== state.httpsPort) {
    log(`${name.replace(/^the /, "")} already runs on ports ${state.sshPort}/${state.httpPort}/${state.httpsPort}; \`down\` first to change them`);
  }
  const info = toInfo(vm, p, state, pid);
  await waitUntilReady(readyCheck(info, pid, name, 1, log));
  log(`${name.replace(/^the /, "")} already running (pid ${pid}, ssh 127.0.0.1:${state.sshPort})`);
  return info;
}

/**
 * How to wait for one VM. The fleet's VMs share the cores (booting or not), so the boot wait
 * grows with their number (QDEPLOY_SANDBOX_TIMEOUT is the wait for one). Measured with another
 * 3-VM fleet on the same 2 cores: 3 VMs at once 147s; VM 2 beside a running VM 1, 102s.
 */
function readyCheck(info: SandboxInfo, pid: number, name: string, fleetSize: number, log: (l: string) => void) {
  const seconds = Number(process.env.QDEPLOY_SANDBOX_TIMEOUT) || DEFAULT_TIMEOUT_S;
  return {
    name: name === "the sandbox" ? "the sandbox VM" : name,
    sshPort: info.sshPort,
    ssh: (command: string[]) => sandboxSshArgv(info, command),
    consoleLog: join(info.stateDir, "console.log"),
    vmAlive: () => runningQemuPid(join(info.stateDir, "qemu.pid"), join(info.stateDir, "overlay.qcow2")) === pid,
    timeoutMs: seconds * 1000 * Math.max(1, fleetSize),
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

/**
 * Writes known_hosts for every VM of the project that runs or is about to boot (`booting`), so
 * starting or attaching to one VM never drops another's line.
 */
async function refreshKnownHosts(projectDir: string, booting: Map<number, SandboxState>): Promise<void> {
  const states = new Map(booting);
  for (const vm of projectVms(projectDir)) {
    const p = sandboxPaths(projectDir, vm);
    if (states.has(vm) || !runningVmPid(p)) continue;
    const state = await readState(p.stateFile);
    if (state) states.set(vm, state);
  }
  await writeFile(sandboxPaths(projectDir, 1).knownHosts, knownHostsText(states), { mode: 0o644 });
}

async function readState(file: string): Promise<SandboxState | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as SandboxState;
  } catch {
    return undefined;
  }
}

/** Options first, then QDEPLOY_SANDBOX_*_PORT, then the defaults. */
function resolvePorts(opts: SandboxOptions): VmPorts {
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
