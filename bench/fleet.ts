/**
 * The benchmark's fleet row (bench/run.ts runs it after the one-host part): in the same run,
 * pushes of a changed binary to three sandbox VMs (one host, then the other two) against
 * pushes to one of them, without load; bytes sent per host; qdeploy's peak memory with three
 * hosts; the CPU time the VMs used, against what the machine's cores can give.
 *
 * The push to one host is `push fleet --hosts VM1`: the same environment, so the same units.
 * A push to another environment would change VM 1's restart timer each time (a fleet staggers
 * its hosts' restarts) and pay a daemon-reload the three-host push does not.
 */
import { readFileSync, rmSync } from "node:fs";
import { cpus } from "node:os";
import { sandboxFleetUp, sandboxStopVm, type SandboxInfo } from "../src/sandbox/index.ts";
import { makeProject, onVm, writeConfig } from "../test/e2e/harness.ts";

export interface FleetCliRun {
  code: number;
  stdout: string;
  stderr: string;
  maxRssMb: number;
}

export interface FleetBenchOptions {
  projectDir: string;
  ports: { sshPort: number; httpPort: number; httpsPort: number };
  /** Runs bin/qdeploy in a folder under /usr/bin/time -v (bench/run.ts's cli). */
  cli: (cwd: string, args: string[]) => Promise<FleetCliRun>;
  log: (line: string) => void;
  /** Pushes of each kind (default 3). */
  runs: number;
  keepVms: boolean;
}

interface Push {
  total: number;
  /** CPU seconds each VM's QEMU used during the push, VM 1 first. */
  vmCpu: number[];
  /** Core-seconds the machine was idle during the push, and the push's wall time (Bun's start included). */
  idle: number;
  wall: number;
  /** The CLI's own phases (DeployReport.seconds): connect, lock+facts, build, the slowest host's upload. */
  phases: { connect: number; lock: number; build: number; upload: number };
  bytes: number[];
  rssMb: number;
}

/** CPU seconds (user + system) process `pid` has used: a VM's QEMU, all its vCPU threads. */
function qemuCpuSeconds(pid: number | undefined): number {
  if (!pid) return NaN;
  // /proc/PID/stat: fields 14 and 15 (utime, stime) in clock ticks, counted after the ")" of the name.
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
}

/** Core-seconds the whole machine has been idle (idle + iowait of /proc/stat's cpu line). */
function idleSeconds(): number {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/);
  return (Number(f[4]) + Number(f[5])) / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

/** The CPU seconds all three VMs used in a push. */
const allVmCpu = (p: Push) => p.vmCpu.reduce((a, b) => a + b, 0);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

/** The fleet section of RESULTS.md and its target row. */
export async function benchFleet(o: FleetBenchOptions): Promise<{ section: string[]; target: [string, string, boolean] }> {
  o.log("fleet: booting VMs 2 and 3 beside VM 1");
  const t = performance.now();
  const vms = await sandboxFleetUp({ projectDir: o.projectDir, hosts: 3, ...o.ports, log: (l) => o.log(`[sandbox] ${l}`) });
  const bootS = (performance.now() - t) / 1000;
  const dir = makeProject("bench-fleet");
  try {
    for (const vm of vms.slice(1)) {
      await onVm(vm, ["bash", "-c", "systemctl stop 'hello-*' 2>/dev/null; rm -rf /srv/qdeploy/hello /etc/caddy/qdeploy/hello.caddy; true"]);
    }
    const fleetEnv = `\n[environments.fleet]\nhosts = [${vms.map((v) => JSON.stringify(`root@127.0.0.1:${v.sshPort}`)).join(", ")}]\nssh = { identity = ${JSON.stringify(vms[0]!.identity)}, known_hosts = ${JSON.stringify(vms[0]!.knownHosts)} }\n`;
    const vm1 = `root@127.0.0.1:${vms[0]!.sshPort}`;
    const push = async (hosts: "one" | "all", stamp: string): Promise<Push> => {
      writeConfig(dir, vms[0]!, { stamp, extra: fleetEnv });
      const t0 = performance.now();
      const cpu0 = vms.map((v) => qemuCpuSeconds(v.pid));
      const idle0 = idleSeconds();
      const r = await o.cli(dir, ["push", "fleet", ...(hosts === "one" ? ["--hosts", vm1] : []), "--json"]);
      const vmCpu = vms.map((v, i) => qemuCpuSeconds(v.pid) - cpu0[i]!);
      const idle = idleSeconds() - idle0;
      const wall = (performance.now() - t0) / 1000;
      if (r.code !== 0) throw new Error(`fleet bench: push to ${hosts === "one" ? vm1 : "all three"} ${stamp} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
      const report = JSON.parse(r.stdout) as { seconds: { total: number; connect: number; lockAndFacts: number; build: number }; hosts: { bytesSent: number; seconds: { upload: number } }[] };
      const s = report.seconds;
      const phases = { connect: s.connect, lock: s.lockAndFacts, build: s.build, upload: Math.max(...report.hosts.map((h) => h.seconds.upload)) };
      o.log(`fleet: push to ${hosts} ${stamp}: ${s.total.toFixed(1)}s (connect ${s.connect.toFixed(2)}, lock+facts ${s.lockAndFacts.toFixed(2)}, build ${s.build.toFixed(2)}, upload ${phases.upload.toFixed(2)}), ${report.hosts.map((h) => h.bytesSent).join(" + ")} bytes, VMs' CPU ${vmCpu.map((c) => c.toFixed(1)).join(" + ")} s, peak RSS ${r.maxRssMb.toFixed(0)} MB`);
      return { total: s.total, phases, bytes: report.hosts.map((h) => h.bytesSent), rssMb: r.maxRssMb, vmCpu, idle, wall };
    };
    await push("all", "f0"); // the first release on VMs 2 and 3 (setup, the first upload)
    const one: Push[] = [];
    const three: Push[] = [];
    for (let i = 1; i <= o.runs; i++) {
      one.push(await push("one", `f${i}a`));
      three.push(await push("all", `f${i}b`));
    }
    const ratio = median(three.map((p) => p.total)) / median(one.map((p) => p.total));
    const cpuRatio = median(three.map(allVmCpu)) / median(one.map(allVmCpu));
    const cores = cpus().length;
    const perHost = three.map((p) => p.bytes);
    const section = [
      "## Fleet", "",
      `Three sandbox VMs on this machine (VM 1 as above; VMs 2 and 3 with 1 vCPU each, booted in ${bootS.toFixed(0)} s; all three share the machine's ${cores} cores), \`hosts\` = all three, the default rollout (one host, then the other two). ${o.runs} pushes of a changed binary to the three, each after one to VM 1 alone (\`push fleet --hosts\` VM 1: the same environment, so the same units), no load. Seconds are the CLI's own total.`, "",
      "| push | runs (s) | median (s) | bytes sent per host (median) | peak RSS (max) |",
      "| --- | --- | ---: | --- | ---: |",
      `| 1 host | ${one.map((p) => p.total.toFixed(1)).join(", ")} | ${median(one.map((p) => p.total)).toFixed(1)} | ${median(one.map((p) => p.bytes[0]!)).toLocaleString("en")} | ${Math.max(...one.map((p) => p.rssMb)).toFixed(0)} MB |`,
      `| 3 hosts | ${three.map((p) => p.total.toFixed(1)).join(", ")} | ${median(three.map((p) => p.total)).toFixed(1)} | ${[0, 1, 2].map((h) => median(perHost.map((b) => b[h] ?? 0)).toLocaleString("en")).join(" / ")} | ${Math.max(...three.map((p) => p.rssMb)).toFixed(0)} MB |`,
      "",
      "Where the time went (medians, seconds; `rest` is writing the releases, starting them and the switches):",
      "",
      "| push | connect | lock+facts | build | upload (slowest host) | rest |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      ...([["1 host", one], ["3 hosts", three]] as const).map(([name, ps]) => {
        const m = (f: (p: Push) => number) => median(ps.map(f));
        const rest = m((p) => p.total - p.phases.connect - p.phases.lock - p.phases.build - p.phases.upload);
        return `| ${name} | ${m((p) => p.phases.connect).toFixed(2)} | ${m((p) => p.phases.lock).toFixed(2)} | ${m((p) => p.phases.build).toFixed(2)} | ${m((p) => p.phases.upload).toFixed(2)} | ${rest.toFixed(2)} |`;
      }),
      "",
      `The CPU time the VMs' QEMU processes used during a push (medians, seconds), against the core-seconds the machine had (${cores} cores × the push's wall time, Bun's start included) and left idle:`,
      "",
      "| push | VM 1 | VM 2 | VM 3 | all VMs | machine's core-seconds | idle |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...([["1 host", one], ["3 hosts", three]] as const).map(([name, ps]) => {
        const m = (f: (p: Push) => number) => median(ps.map(f)).toFixed(1);
        return `| ${name} | ${[0, 1, 2].map((v) => m((p) => p.vmCpu[v]!)).join(" | ")} | ${m(allVmCpu)} | ${m((p) => p.wall * cores)} | ${m((p) => p.idle)} |`;
      }),
      "",
      `**3 hosts / 1 host: ${ratio.toFixed(2)} ×.** The three hosts write their releases at once, then start the new release beside the live one at once (switch stage); the canary switches, then the other two. Emulated, each host's push is CPU work for this machine: ${cpuRatio.toFixed(1)} × the VMs' CPU time of a push to one, on ${cores} cores left ${median(three.map((p) => p.idle)).toFixed(1)} core-seconds idle. On servers of their own, the hosts' work runs side by side.`, "",
    ];
    return { section, target: ["push to 3 hosts ≤ 1.5 × push to 1 host (no load, medians)", `${ratio.toFixed(2)} ×`, ratio <= 1.5] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (!o.keepVms) for (const vm of vms.slice(1)) await sandboxStopVm({ projectDir: o.projectDir }, vm.vm);
  }
}
