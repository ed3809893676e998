/**
 * Starting and stopping the sandbox's QEMU process. `qemuArgv` is pure; the rest is IO.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { OperationError } from "../errors.ts";
import { runOk } from "./run.ts";

/**
 * The guest port the optional probe port forwards to: what an app bound to 0.0.0.0:$PORT
 * looks like from outside, so a test can show the firewall keeps it from being reached.
 */
export const PROBE_GUEST_PORT = 8999;

/** The most VMs a fleet may have (one digit keeps `vmK` dirs and port offsets simple; 2 cores run 3 well). */
export const MAX_FLEET_VMS = 9;

/** Everything QEMU's command line depends on. */
export interface VmSpec {
  imageDir: string;
  overlay: string;
  consoleLog: string;
  pidFile: string;
  sshPort: number;
  httpPort: number;
  httpsPort: number;
  /** Host port forwarded to the guest's PROBE_GUEST_PORT (tests reach a listener around Caddy), if any. */
  probePort?: number;
  /** Root's public key, `ssh-ed25519 AAAA...`. */
  authorizedKey: string;
  accel: "tcg" | "kvm";
  /** QEMU's process name (default "qdeploy-sandbox"); a fleet's VMs have their own. */
  name?: string;
  /** Virtual CPUs (default 2). */
  cpus?: number;
  /** The fleet's private network: its multicast group's UDP port and this VM's number (its address, sandboxLanAddress). */
  lan?: { port: number; vm: number };
}

/**
 * A fleet's private network, as a provider's VPC gives servers: every VM of a project has a
 * second NIC on one QEMU multicast "hub" (on 127.0.0.1, never the network), and VM k answers
 * at 10.99.0.k (the image's networkd files match the NIC by its MAC address, recipe.ts).
 */
export const SANDBOX_LAN = { prefix: "10.99.0.", mask: 24, group: "230.0.0.1", macPrefix: "52:54:00:99:00:" } as const;

/** VM k's private address. */
export function sandboxLanAddress(vm: number): string {
  return `${SANDBOX_LAN.prefix}${vm}`;
}

/** VM k's second NIC's MAC address (k < 10: a fleet has at most 9 VMs). */
export function sandboxLanMac(vm: number): string {
  return `${SANDBOX_LAN.macPrefix}${vm.toString(16).padStart(2, "0")}`;
}

/**
 * The kernel command line; the key's spaces become "_" because the command line splits on spaces.
 * tsc=reliable: under TCG the guest marks the TSC unstable and falls back to the emulated HPET,
 * which costs every clock read a trip through QEMU (measured: boot 19s -> 16.5s with it).
 */
export function kernelCmdline(authorizedKey: string): string {
  const [type, blob] = authorizedKey.trim().split(/\s+/);
  return `root=/dev/vda rw console=ttyS0 tsc=reliable qdeploy.authorized_key=${type}_${blob}`;
}

/** QEMU option values escape "," by doubling it. */
function optValue(s: string): string {
  return s.replaceAll(",", ",,");
}

/** The qemu-system-x86_64 argv that boots the sandbox in the background. */
export function qemuArgv(s: VmSpec): string[] {
  // KVM crashes nested guests on the machines we measured (FACTS.md), so TCG is the default.
  const accel = s.accel === "kvm" ? ["-accel", "kvm", "-cpu", "host"] : ["-accel", "tcg,thread=multi", "-cpu", "max"];
  const fwd = [`tcp:127.0.0.1:${s.sshPort}-:22`, `tcp:127.0.0.1:${s.httpPort}-:80`, `tcp:127.0.0.1:${s.httpsPort}-:443`];
  if (s.probePort) fwd.push(`tcp:127.0.0.1:${s.probePort}-:${PROBE_GUEST_PORT}`);
  return [
    "qemu-system-x86_64",
    "-name", s.name ?? "qdeploy-sandbox",
    ...accel,
    "-m", "1024",
    "-smp", String(s.cpus ?? 2),
    "-kernel", join(s.imageDir, "vmlinuz"),
    "-initrd", join(s.imageDir, "initrd.img"),
    "-append", kernelCmdline(s.authorizedKey),
    "-drive", `file=${optValue(s.overlay)},if=virtio,format=qcow2`,
    // hostfwd binds 127.0.0.1 only: the sandbox is never reachable from the network.
    "-nic", `user,model=virtio-net-pci,${fwd.map((f) => `hostfwd=${f}`).join(",")}`,
    ...(s.lan
      ? [
          "-netdev", `socket,id=lan,mcast=${SANDBOX_LAN.group}:${s.lan.port},localaddr=127.0.0.1`,
          "-device", `virtio-net-pci,netdev=lan,mac=${sandboxLanMac(s.lan.vm)}`,
        ]
      : []),
    // sshd and Caddy want entropy early; an emulated CPU gathers it slowly.
    "-device", "virtio-rng-pci",
    "-display", "none",
    "-monitor", "none",
    "-serial", `file:${s.consoleLog}`,
    "-daemonize",
    "-pidfile", s.pidFile,
  ];
}

/** Creates the copy-on-write disk over the cached base image. */
export async function createOverlay(imageDir: string, overlay: string): Promise<void> {
  await runOk(
    ["qemu-img", "create", "-q", "-f", "qcow2", "-b", join(imageDir, "base.img"), "-F", "raw", overlay],
    "creating the sandbox disk (qemu-img)",
  );
}

/** Starts QEMU (it daemonizes once the VM is set up) and returns its pid. */
export async function startQemu(spec: VmSpec): Promise<number> {
  await runOk(qemuArgv(spec), "starting the sandbox VM (qemu-system-x86_64)", { timeoutMs: 60_000 });
  const pid = readPid(spec.pidFile);
  if (!pid) throw new OperationError(`QEMU started but wrote no pid to ${spec.pidFile}`);
  return pid;
}

/** The pid in `pidFile` if that process is alive and is a QEMU running `overlay`. */
export function runningQemuPid(pidFile: string, overlay: string): number | undefined {
  const pid = readPid(pidFile);
  if (!pid) return undefined;
  try {
    // Checking the command line guards against a stale pid reused by another process.
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const ours = cmdline[0]?.includes("qemu-system") && cmdline.some((a) => a.includes(overlay));
    return ours ? pid : undefined;
  } catch {
    return undefined;
  }
}

function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, "utf8").trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Stops QEMU: SIGTERM (QEMU exits at once; the disk is thrown away anyway), SIGKILL after 10s. */
export async function stopQemu(pid: number): Promise<void> {
  signal(pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (processAlive(pid) && Date.now() < deadline) await Bun.sleep(100);
  if (processAlive(pid)) signal(pid, "SIGKILL");
  while (processAlive(pid)) await Bun.sleep(100);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Whether process `pid` runs (a zombie does not count). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers kill(0); QEMU daemonized, so it is not our child, but be sure.
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
}

/** Throws a clear error if a forwarded port of `owner` ("the sandbox", "sandbox VM 2") is already taken on 127.0.0.1. */
export async function checkPortsFree(ports: Record<string, number>, owner = "the sandbox"): Promise<void> {
  for (const [name, port] of Object.entries(ports)) {
    if (!(await portFree(port))) {
      const env = `QDEPLOY_SANDBOX_${name.toUpperCase()}_PORT`;
      const vm = /VM (\d+)$/.exec(owner)?.[1];
      throw new OperationError(
        `port ${port} on 127.0.0.1 (${owner}'s ${name} port) is already in use: ` +
          `stop what holds it (another project's sandbox? \`qdeploy sandbox down\` there) or set ${env}` +
          (vm && vm !== "1" ? ` (VM ${vm} uses it + ${Number(vm) - 1})` : ""),
      );
    }
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}
