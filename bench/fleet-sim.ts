/**
 * The fleet simulation (npm run bench:fleet-sim): pushes to 10, 100 and 1,000 simulated hosts
 * through the real executor path (push -> withLockedSessions -> executePlan -> run-plan), the
 * hosts being model hosts behind a simulated network (test/fixtures/sim-network.ts: a round
 * trip's latency, a handshake's, one uplink shared by every upload, a switch's health wait) and
 * the build a fake one. Waves of 10 %, no pause. Each size runs in a process of its own, so its
 * peak memory is its own. Prints a Markdown table of the wall time beside a cost model, peak
 * memory and the most handshakes, connections, channels and uploads at once, and writes it to
 * bench/FLEET-SIM.md. A few minutes on a 2-core machine; no VM, no SSH.
 *
 * Knobs (environment): FLEET_SIM_HOSTS (10,100,1000), FLEET_SIM_CONCURRENCY (unset: the default,
 * 32), FLEET_SIM_UNCAPPED (1: one more run of the largest size with concurrency = hosts; 0: not),
 * FLEET_SIM_RTT_MS (50), FLEET_SIM_HANDSHAKE_MS (250), FLEET_SIM_UPLINK_MBIT (100),
 * FLEET_SIM_UPLOAD_KB (512), FLEET_SIM_SWITCH_MS (1000), FLEET_SIM_OUT (bench/FLEET-SIM.md).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { HostAddress, ResolvedConfig } from "../src/config/types.ts";
import type { OpEvent } from "../src/events.ts";
import type { OpContext } from "../src/ops/context.ts";
import { push } from "../src/ops/deploy.ts";
import { hostConcurrency, planWaves } from "../src/plan/waves.ts";
import { Redactor } from "../src/secrets/redact.ts";
import { helloConfig } from "../test/fixtures/config.ts";
import type { FakeHost } from "../test/fixtures/recording-remote.ts";
import { SimNetwork, type SimNetworkOptions } from "../test/fixtures/sim-network.ts";

const num = (name: string, def: number) => (process.env[name] ? Number(process.env[name]) : def);

const NET: SimNetworkOptions = {
  rttMs: num("FLEET_SIM_RTT_MS", 50),
  handshakeMs: num("FLEET_SIM_HANDSHAKE_MS", 250),
  uplinkBytesPerSec: (num("FLEET_SIM_UPLINK_MBIT", 100) * 1e6) / 8,
  uploadBytes: num("FLEET_SIM_UPLOAD_KB", 512) * 1024,
  switchMs: num("FLEET_SIM_SWITCH_MS", 1000),
};
const BATCH = { percent: 10 };
/** Round trips of one host's release write besides its upload's bytes: setup batch, upload (open, answer), release batch. */
const WRITE_RTTS = 4;
const OLD = "20261201000000";

/** What one run measured (a child process prints it as JSON). */
interface Run {
  hosts: number;
  concurrency: number;
  waves: number;
  wall: number;
  /** From the push's start: all locked, the first wave starts, the push returns. */
  at: { locked: number; firstWave: number; end: number };
  connect: number;
  lockAndFacts: number;
  rssBaseMb: number;
  rssPeakMb: number;
  maxRssMb: number;
  cpuSec: number;
  events: number;
  peaks: { handshakes: number; connections: number; channels: number; busy: number; locking: number; uploads: number; switches: number };
  bytesSent: number;
}

/** The cost model's parts, in seconds. */
function model(hosts: number, concurrency: number, waves: number) {
  const rounds = Math.ceil(hosts / concurrency);
  const rtt = NET.rttMs / 1000;
  const link = NET.uploadBytes / NET.uplinkBytesPerSec;
  const connect = rounds * (NET.handshakeMs / 1000);
  const lock = rounds * rtt;
  // The uplink carries every host's bytes, plus one host's round trips (the first byte waits for
  // them, the last host's answer comes after); or the hosts' own round trips, `concurrency` at a time.
  const write = Math.max(hosts * link + WRITE_RTTS * rtt, rounds * (WRITE_RTTS * rtt + link));
  // More than one wave: every host starts its slot first (switch stage, all at once, as a wave
  // switches), and a wave only moves its traffic.
  const stage = waves > 1 ? rtt + NET.switchMs / 1000 : 0;
  const perWave = waves > 1 ? rtt : rtt + NET.switchMs / 1000;
  return { connect, lock, write, stage, perWave, switch: waves * perWave, total: connect + lock + write + stage + waves * perWave };
}

function addresses(n: number): HostAddress[] {
  return Array.from({ length: n }, (_, i) => ({ user: "root", host: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, label: `root@10.${i >> 16}.${(i >> 8) & 255}.${i & 255}` }));
}

/** One push to n simulated hosts, in this process. */
async function runOne(n: number, concurrency: number | undefined): Promise<Run> {
  const hosts = addresses(n);
  const models = hosts.map((a): FakeHost => ({ label: a.label, live: OLD, releases: [OLD] }));
  const net = new SimNetwork(NET, models);
  const root = mkdtempSync(path.join(os.tmpdir(), "qdeploy-fleet-sim-"));
  const rollout: ResolvedConfig["rollout"] = { batch: BATCH, pauseSec: 0, ...(concurrency !== undefined && { concurrency }) };
  const cfg: ResolvedConfig = { ...helloConfig, hosts, rollout, root, secrets: { store: "env", names: [] } };
  let events = 0;
  const at = { locked: 0, firstWave: 0, end: 0 };
  let t0 = 0;
  const op: OpContext = {
    cfg,
    connect: net.connect,
    events: (e: OpEvent) => {
      events++;
      if (e.type === "locked") at.locked = (performance.now() - t0) / 1000;
      if (e.type === "wave" && e.wave === 1) at.firstWave = (performance.now() - t0) / 1000;
    },
    redactor: new Redactor(),
    who: "sim@bench",
    lockWaitSec: 1,
    build: async (_cfg, archs) => ({
      artifacts: Object.fromEntries(archs.map((a) => [a, { binaries: { hello: { path: "/sim/hello", sha256: "b".repeat(64), size: NET.uploadBytes } } }])),
      git: null,
      seconds: 0,
    }),
  };
  Bun.gc(true);
  const rssBase = process.memoryUsage().rss;
  let rssPeak = rssBase;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
  const cpu0 = process.cpuUsage();
  t0 = performance.now();
  const report = await push(op);
  at.end = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  const cpu = process.cpuUsage(cpu0);
  rmSync(root, { recursive: true, force: true });
  const notLive = models.filter((h) => h.live !== report.release);
  if (notLive.length || report.hosts.some((h) => h.outcome !== "live")) throw new Error(`${notLive.length} of ${n} hosts did not switch to ${report.release}`);
  const mb = (b: number) => b / 1024 / 1024;
  return {
    hosts: n,
    concurrency: hostConcurrency(rollout),
    waves: report.waves.length,
    wall: at.end,
    at,
    connect: report.seconds.connect,
    lockAndFacts: report.seconds.lockAndFacts,
    rssBaseMb: mb(rssBase),
    rssPeakMb: mb(rssPeak),
    maxRssMb: process.resourceUsage().maxRSS / 1024, // kB on Linux and macOS alike in Bun/Node
    cpuSec: (cpu.user + cpu.system) / 1e6,
    events,
    peaks: {
      handshakes: net.handshakes.peak,
      connections: net.connections.peak,
      channels: net.channels.peak,
      busy: net.busy.peak,
      locking: net.locking.peak,
      uploads: net.uploads.peak,
      switches: net.switches.peak,
    },
    bytesSent: net.bytesSent,
  };
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

/** The two tables: time against the model, and what the deploying process held at once. */
function tables(runs: Run[]): string[] {
  const time = [
    "| hosts | concurrency | waves | wall s | model s | connect s (model) | lock+facts s (model) | write + stage s (model) | switch s (model) | per wave s (model) |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...runs.map((r) => {
      const m = model(r.hosts, r.concurrency, r.waves);
      const write = r.at.firstWave - r.at.locked; // the build (fake) and the plan are in here too
      const sw = r.at.end - r.at.firstWave;
      return `| ${r.hosts} | ${r.concurrency} | ${r.waves} | ${f1(r.wall)} | ${f1(m.total)} | ${f2(r.connect)} (${f2(m.connect)}) | ${f2(r.lockAndFacts)} (${f2(m.lock)}) | ${f1(write)} (${f1(m.write + m.stage)}) | ${f1(sw)} (${f1(m.switch)}) | ${f2(sw / r.waves)} (${f2(m.perWave)}) |`;
    }),
  ];
  const held = [
    "| hosts | concurrency | peak RSS MB (before the push) | maxRSS MB | CPU s | most at once: handshakes | connections | channels (busy) | lock+facts | uploads | switches | MB sent | events |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...runs.map(
      (r) =>
        `| ${r.hosts} | ${r.concurrency} | ${Math.round(r.rssPeakMb)} (${Math.round(r.rssBaseMb)}) | ${Math.round(r.maxRssMb)} | ${f1(r.cpuSec)} | ${r.peaks.handshakes} | ${r.peaks.connections} | ${r.peaks.channels} (${r.peaks.busy}) | ${r.peaks.locking} | ${r.peaks.uploads} | ${r.peaks.switches} | ${f1(r.bytesSent / 1e6)} | ${r.events} |`,
    ),
  ];
  return [...time, "", ...held];
}

if (process.argv[2] === "--child") {
  const n = Number(process.argv[3]);
  const c = process.argv[4] ? Number(process.argv[4]) : undefined;
  console.log(JSON.stringify(await runOne(n, c)));
  process.exit(0);
}

const sizes = (process.env.FLEET_SIM_HOSTS ?? "10,100,1000").split(",").map(Number);
const concurrency = process.env.FLEET_SIM_CONCURRENCY ? Number(process.env.FLEET_SIM_CONCURRENCY) : undefined;
const plan: [number, number | undefined][] = sizes.map((n) => [n, concurrency]);
const largest = Math.max(...sizes);
if (process.env.FLEET_SIM_UNCAPPED !== "0") plan.push([largest, largest]);
const runs: Run[] = [];
const started = performance.now();
for (const [n, c] of plan) {
  const waves = planWaves(Array(n).fill(0), { batch: BATCH, pauseSec: 0 }).length;
  const cap = c ?? hostConcurrency({ batch: BATCH, pauseSec: 0 });
  console.error(`fleet-sim: ${n} hosts, concurrency ${cap}, ${waves} waves (model ${f1(model(n, cap, waves).total)} s) ...`);
  const child = spawnSync(process.execPath, [import.meta.path, "--child", String(n), ...(c !== undefined ? [String(c)] : [])], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (child.status !== 0) {
    console.error(`fleet-sim: the run of ${n} hosts failed (exit ${child.status})`);
    process.exit(1);
  }
  const run: Run = JSON.parse(child.stdout.trim().split("\n").at(-1)!);
  runs.push(run);
  console.error(`fleet-sim: ${n} hosts: ${f1(run.wall)} s`);
}

const cpu = os.cpus()[0]?.model ?? "unknown";
const lines = [
  "# Fleet simulation",
  "",
  `\`npm run bench:fleet-sim\` (bench/fleet-sim.ts), ${new Date().toISOString().slice(0, 10)}, on ${os.cpus().length} × ${cpu}, Bun ${Bun.version}; ${f1((performance.now() - started) / 1000)} s in all.`,
  "",
  "A push through the real executor (push → withLockedSessions → executePlan → run-plan) to model",
  "hosts behind a simulated network (test/fixtures/sim-network.ts); the build is a fake. Each row",
  "is a process of its own. Waves of 10 %, no pause. The network:",
  "",
  `- a round trip ${NET.rttMs} ms, an SSH handshake ${NET.handshakeMs} ms, a switch's health wait ${NET.switchMs} ms after its round trip;`,
  `- every host is sent ${NET.uploadBytes / 1024} KiB (its binary), all uploads sharing one ${(NET.uplinkBytesPerSec * 8) / 1e6} Mbit/s uplink.`,
  "",
  "The model, for H hosts, concurrency N, W waves, B bytes per host, uplink L: connect ⌈H/N⌉ × handshake;",
  `lock+facts ⌈H/N⌉ × RTT; write max(H × B / L + ${WRITE_RTTS} RTT, ⌈H/N⌉ × (${WRITE_RTTS} RTT + B / L));`,
  "stage (W > 1: every host starts its slot before the first wave, all at once) RTT + health wait;",
  "switch W × RTT (W = 1: RTT + health wait, no stage).",
  "Measured write + stage is from every host locked to the first wave (it holds the fake build and the plan too);",
  "switch from the first wave to the push's end (unlocking and closing too).",
  "",
  ...tables(runs),
  "",
  "RSS is sampled every 20 ms during the push (process.memoryUsage().rss; in brackets, before it);",
  "maxRSS is the process's own (process.resourceUsage()). Channels count every open channel, the deploy",
  "lock's among them (one per host for the whole push); busy ones are the rest. The last row, if any, is",
  "the largest fleet with the cap as high as its hosts: what the cap costs and what it saves.",
  "",
];
const out = process.env.FLEET_SIM_OUT ?? path.join(import.meta.dir, "FLEET-SIM.md");
writeFileSync(out, lines.join("\n"));
console.log(tables(runs).join("\n"));
console.error(`fleet-sim: wrote ${path.relative(process.cwd(), out)}`);
