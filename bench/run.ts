/**
 * qdeploy's benchmark: deploys the example app to a sandbox VM under steady HTTPS load and
 * measures what the README promises — no failed request during a push or a rollback, long
 * requests drained, how fast each phase is against the by-hand floor, bytes sent, memory.
 *
 *   node_modules/.bin/bun bench/run.ts [--keep-vm]
 *
 * Writes bench/RESULTS.md; exits 1 if any request failed or a long request did not complete
 * (or a push/rollback failed). Not part of `bun test`: it takes minutes.
 *
 * It runs its own sandbox VM (state in bench/.state, ports 2322/8180/8543 unless
 * QDEPLOY_SANDBOX_SSH_PORT/_HTTP_PORT/_HTTPS_PORT say otherwise), so it never touches the
 * e2e suite's VM; the VM is shut down at the end unless --keep-vm.
 *
 * Knobs (environment): BENCH_PUSHES (5), BENCH_ROLLBACKS (5), BENCH_CONNECTIONS (4),
 * BENCH_THREADS (2), BENCH_DELAY_MS (0: pause between a connection's requests;
 * with a pause wrk also counts a keep-alive connection closed while idle as a read error),
 * BENCH_LONG (3 long requests in flight), BENCH_LONG_MS (8000), BENCH_STEADY_S (5: steady
 * load between switches), BENCH_FLOOR_RUNS (3), BENCH_FLEET (1: the fleet row on three VMs,
 * bench/fleet.ts; 0 skips it), BENCH_FLEET_RUNS (3), BENCH_SLUG (1: the slug row, bench/slug.ts;
 * 0 skips it), BENCH_SLUG_RUNS (3). `--slug-only` runs the slug row alone (and keeps RESULTS.md's
 * other sections as they are).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { sandboxDown, sandboxSshArgv, sandboxStatus, sandboxUp, type SandboxInfo } from "../src/sandbox/index.ts";
import { quoteArgv } from "../src/util/quote.ts";
import { get, makeProject, onVm, REPO, writeConfig } from "../test/e2e/harness.ts";
import { benchFleet } from "./fleet.ts";
import { benchSlug } from "./slug.ts";

const BENCH = import.meta.dir;
const STATE = path.join(BENCH, ".state");
const QDEPLOY = path.join(REPO, "bin/qdeploy");
const num = (name: string, dflt: number) => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number`);
  return v;
};
const K = {
  pushes: num("BENCH_PUSHES", 5),
  rollbacks: num("BENCH_ROLLBACKS", 5),
  connections: num("BENCH_CONNECTIONS", 4),
  threads: num("BENCH_THREADS", 2),
  delayMs: num("BENCH_DELAY_MS", 0),
  long: num("BENCH_LONG", 3),
  longMs: num("BENCH_LONG_MS", 8000),
  steadyS: num("BENCH_STEADY_S", 5),
  floorRuns: Math.max(1, num("BENCH_FLOOR_RUNS", 3)),
  fleet: num("BENCH_FLEET", 1) > 0,
  fleetRuns: Math.max(1, num("BENCH_FLEET_RUNS", 3)),
  slug: num("BENCH_SLUG", 1) > 0,
  slugRuns: Math.max(1, num("BENCH_SLUG_RUNS", 3)),
};
const slugOnly = process.argv.includes("--slug-only");
const PORTS = {
  sshPort: num("QDEPLOY_SANDBOX_SSH_PORT", 2322),
  httpPort: num("QDEPLOY_SANDBOX_HTTP_PORT", 8180),
  httpsPort: num("QDEPLOY_SANDBOX_HTTPS_PORT", 8543),
};
const FLOOR_PORT = 9093;
const keepVm = process.argv.includes("--keep-vm");
const log = (s: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();

// ---------------------------------------------------------------------------------------
// Tools on the load machine

async function sh(cmd: string): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(["bash", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out: out + err };
}

async function ensureTools(): Promise<void> {
  const missing = [["wrk", "/usr/bin/wrk", "wrk"], ["GNU time", "/usr/bin/time", "time"]].filter(([, bin]) => !existsSync(bin!));
  if (!missing.length) return;
  const pkgs = missing.map((m) => m[2]!);
  const root = process.getuid?.() === 0;
  if (root && Bun.which("apt-get")) {
    log(`installing ${pkgs.join(", ")} with apt-get`);
    const r = await sh(`DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${pkgs.join(" ")} || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${pkgs.join(" ")}; }`);
    if (r.code === 0 && missing.every(([, bin]) => existsSync(bin!))) return;
    console.error(r.out.slice(-2000));
  }
  console.error(`the benchmark needs ${missing.map((m) => m[0]).join(" and ")}: install the Debian package(s) ${pkgs.join(" ")} (apt-get install ${pkgs.join(" ")}), then run it again`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------
// The CLI, run as a user runs it, under /usr/bin/time -v for its peak memory

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
  maxRssMb: number;
}

async function cli(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  // -o FILE: GNU time's report on a pipe to Bun came back cut short (and time exited 1).
  const rssFile = path.join(STATE, "time-v.txt");
  rmSync(rssFile, { force: true });
  const t = now();
  const p = Bun.spawn(["/usr/bin/time", "-v", "-o", rssFile, QDEPLOY, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const seconds = (now() - t) / 1000;
  const report = existsSync(rssFile) ? readFileSync(rssFile, "utf8") : "";
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1] ?? 0);
  if (code !== 0) writeFileSync(path.join(STATE, `failed-${Date.now()}.log`), `${args.join(" ")}\nexit ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}\n--- time -v\n${report}`);
  return { code, stdout, stderr, seconds, maxRssMb: rss / 1024 };
}

interface DeployReport {
  release: string;
  // lock and facts were separate, then one round trip (lockAndFacts): read whichever is there
  seconds: { connect: number; lock?: number; facts?: number; lockAndFacts?: number; build: number; total: number };
  hosts: { label: string; bytesSent: number; seconds: { setup: number; upload: number; release: number } }[];
  urls: string[];
}

// ---------------------------------------------------------------------------------------
// Load: wrk in back-to-back segments (steady / switch), each writing its latency histogram

interface Segment {
  kind: "steady" | "switch" | "floor";
  label: string;
  duration_us: number;
  requests: number;
  responses: number;
  non2xx: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  hist: [number, number][];
}

class Load {
  private seq = 0;
  private cur: { proc: Bun.Subprocess; out: string; kind: Segment["kind"]; label: string } | null = null;
  readonly segments: Segment[] = [];
  readonly problems: string[] = [];
  constructor(private info: SandboxInfo) {}

  private start(kind: Segment["kind"], label: string) {
    const out = path.join(STATE, `wrk-${++this.seq}.json`);
    rmSync(out, { force: true });
    const proc = Bun.spawn(
      ["wrk", `-t${K.threads}`, `-c${K.connections}`, "-d3600s", "--timeout", "30s", "-s", path.join(BENCH, "load.lua"), `https://hello.localhost:${this.info.httpsPort}/`],
      { env: { ...process.env, BENCH_OUT: out, BENCH_CONNECT: "127.0.0.1", BENCH_DELAY_MS: String(K.delayMs) }, stdout: "pipe", stderr: "pipe" },
    );
    return { proc, out, kind, label };
  }

  private async finish(c: NonNullable<Load["cur"]>) {
    c.proc.kill("SIGINT");
    const [o, e, code] = await Promise.all([new Response(c.proc.stdout as ReadableStream).text(), new Response(c.proc.stderr as ReadableStream).text(), c.proc.exited]);
    if (!existsSync(c.out)) {
      this.problems.push(`wrk segment "${c.label}" wrote no results (exit ${code}): ${(o + e).trim().slice(0, 300)}`);
      return;
    }
    const s = JSON.parse(readFileSync(c.out, "utf8"));
    this.segments.push({ kind: c.kind, label: c.label, ...s });
  }

  /** Ends the running segment and starts the next; the new wrk runs before the old stops, so the load never pauses. */
  async next(kind: Segment["kind"], label: string) {
    const n = this.start(kind, label);
    await sleep(100);
    const old = this.cur;
    this.cur = n;
    if (old) await this.finish(old);
  }

  async stop() {
    const old = this.cur;
    this.cur = null;
    if (old) await this.finish(old);
  }
}

function summarize(segs: Segment[]) {
  const hist = new Map<number, number>();
  let requests = 0, non2xx = 0, socket = 0, seconds = 0;
  const errors = { connect: 0, read: 0, write: 0, status: 0, timeout: 0 };
  for (const s of segs) {
    requests += s.requests;
    non2xx += s.non2xx;
    seconds += s.duration_us / 1e6;
    for (const k of Object.keys(errors) as (keyof typeof errors)[]) errors[k] += s.errors[k];
    socket += s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout;
    for (const [v, c] of s.hist) hist.set(v, (hist.get(v) ?? 0) + c);
  }
  const sorted = [...hist.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((a, [, c]) => a + c, 0);
  const pct = (p: number) => {
    if (!total) return NaN;
    const want = Math.ceil((p / 100) * total);
    let acc = 0;
    for (const [v, c] of sorted) if ((acc += c) >= want) return v / 1000;
    return sorted.at(-1)![0] / 1000;
  };
  return { requests, non2xx, socket, failed: non2xx + socket, errors, seconds, p50: pct(50), p99: pct(99), max: total ? sorted.at(-1)![0] / 1000 : NaN };
}

// ---------------------------------------------------------------------------------------
// Long requests: BENCH_LONG loops of GET /slow?ms=BENCH_LONG_MS around every switch

interface LongResult { op: string; status: number; seconds: number; body: string }
/** Long requests still finishing after their push/rollback returned (awaited by pause()). */
const pendingLongs: Promise<void>[] = [];
/** Steady load between switches: BENCH_STEADY_S, and until the last switch's long requests are done. */
async function pause(): Promise<void> {
  await Promise.all([sleep(K.steadyS * 1000), ...pendingLongs.splice(0)]);
}
/** Every long request of the run. */
const longResults: LongResult[] = [];

function longRequests(info: SandboxInfo, op: string) {
  let running = true;
  const results = longResults;
  const loops = Array.from({ length: K.long }, async () => {
    while (running) {
      const t = now();
      const r = await get(info, `/slow?ms=${K.longMs}`);
      results.push({ op, status: r.status, seconds: (now() - t) / 1000, body: r.body.slice(0, 80) });
    }
  });
  return {
    /** Starts no new long request; resolves when the ones in flight are done. */
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

// ---------------------------------------------------------------------------------------
// The switch's phases, from the VM's journal (its own clock, so no skew)

interface SwitchPhases { start?: number; route?: number; caddy?: number; drain?: number }

let journalCursor = "";
async function switchPhases(info: SandboxInfo): Promise<SwitchPhases> {
  const args = ["journalctl", "-o", "json", "--no-pager", "--show-cursor", "-u", "hello-web@*", "-u", "caddy.service"];
  if (journalCursor) args.push(`--after-cursor=${journalCursor}`);
  else args.push("-n", "0");
  const r = await onVm(info, args);
  const lines = r.stdout.split("\n");
  const cur = lines.map((l) => /^-- cursor: (.*)$/.exec(l)?.[1]).filter(Boolean).at(-1);
  if (cur) journalCursor = cur;
  const ev = lines.filter((l) => l.startsWith("{")).map((l) => {
    const j = JSON.parse(l);
    const msg = Array.isArray(j.MESSAGE) ? Buffer.from(j.MESSAGE).toString() : String(j.MESSAGE ?? "");
    return { t: Number(j.__REALTIME_TIMESTAMP) / 1e6, msg };
  });
  const after = (t0: number | undefined, test: (m: string) => boolean) => (t0 === undefined ? undefined : ev.find((e) => e.t >= t0 && test(e.msg))?.t);
  const re = (r: RegExp) => (m: string) => r.test(m);
  const caddy = (what: (j: Record<string, unknown>) => boolean) => (m: string) => {
    if (!m.startsWith("{")) return false;
    try {
      return what(JSON.parse(m));
    } catch {
      return false;
    }
  };
  // systemd logs "Started" for the new slot, the app "listening on"; then the switch waits
  // for its health check, has Caddy route to it (a POST /load only when the site file
  // changed: Caddy's JSON log), enables units, waits the hand-over; systemd logs
  // "Stopping"/"Stopped" of the old slot.
  const started = after(ev[0]?.t, re(/^Start(ed|ing) hello-web@/));
  const listening = after(started, re(/^listening on 127\.0\.0\.1/));
  const stopping = after(listening, re(/^Stopping hello-web@/));
  const stopped = after(stopping, re(/^Stopped hello-web@/));
  const load = after(listening, caddy((j) => j.msg === "received request" && j.uri === "/load"));
  const loaded = after(load, caddy((j) => j.msg === "load complete"));
  const d = (a?: number, b?: number) => (a !== undefined && b !== undefined && b >= a ? b - a : undefined);
  const caddyLoad = load !== undefined && (stopping === undefined || load <= stopping) ? d(load, loaded) : undefined;
  return { start: d(started, listening), route: d(listening, stopping), caddy: caddyLoad, drain: d(stopping, stopped) };
}

// ---------------------------------------------------------------------------------------
// One push or rollback under load

interface Op {
  kind:
    | "push"
    | "push (unchanged binary)"
    | "rollback"
    | "first push (no load)"
    | "push (no load)"
    | "push (no load, a new connection)"
    | "rollback (no load)"
    | "push (no load, standby off)"
    | "rollback (no load, outside the window)"
    | (typeof CODE_CHANGES)[keyof typeof CODE_CHANGES];
  stamp: string;
  /** A rollback: seconds from the command's start until the release it goes back to answered (polled every 20 ms). */
  served?: number;
  /** A rollback to the warm standby: the switch's own ms from its start to the flip. */
  flipMs?: number;
  ok: boolean;
  error?: string;
  wall: number;
  report?: DeployReport;
  phases: SwitchPhases;
  bytesSent: number;
  rawSize: number;
  maxRssMb: number;
  binary?: string;
}

async function liveBinary(info: SandboxInfo, dir: string): Promise<string | undefined> {
  const r = await onVm(info, ["cat", "/srv/qdeploy/hello/current/release.json"]);
  try {
    const sha = JSON.parse(r.stdout).sha256 as string;
    const p = path.join(dir, ".qdeploy/build", sha);
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

/** The stamps live now and before the last push: what the hello app answers, and what a rollback goes back to. */
const stamps = { live: "", before: "" };

/**
 * Seconds from t0 until GET / answers `body` (every 20 ms); NaN after 60 s or once `done` is set.
 * In this process over a kept-alive HTTPS connection, as a browser asks: a curl process per poll
 * took CPU from the emulated VM beside it.
 */
async function untilServes(info: SandboxInfo, body: string, t0: number, done: { set: boolean }): Promise<number> {
  const tls = { rejectUnauthorized: false, serverName: "hello.localhost" };
  while (!done.set && now() - t0 < 60_000) {
    const r = await fetch(`https://127.0.0.1:${info.httpsPort}/`, { headers: { host: "hello.localhost" }, tls } as RequestInit)
      .then(async (res) => ({ status: res.status, body: await res.text() }))
      .catch(() => null);
    if (r?.status === 200 && r.body === body) return (now() - t0) / 1000;
    await sleep(20);
  }
  return NaN;
}

async function runOp(info: SandboxInfo, dir: string, kind: Op["kind"], stamp: string, load: Load | null): Promise<Op> {
  const rollback = kind.startsWith("rollback");
  if (!rollback) writeConfig(dir, info, { stamp, standby: kind.includes("standby off") ? "0" : undefined, ssh: kind.includes("a new connection") ? { persist: "0" } : undefined });
  const longs = load && K.long > 0 ? longRequests(info, `${kind} ${stamp}`) : null;
  if (load) await load.next("switch", `${kind} ${stamp}`);
  await countOtherVms();
  const done = { set: false };
  const target = stamps.before;
  const served = rollback ? untilServes(info, `hello from ${target}\n`, now(), done) : null;
  const r = await cli(dir, rollback ? ["rollback", "sandbox", "--json"] : ["push", "sandbox", "--json"]);
  done.set = true;
  if (r.code === 0) Object.assign(stamps, rollback ? { live: target, before: stamps.live } : { live: stamp, before: stamps.live });
  if (load) await load.next("steady", `after ${kind} ${stamp}`);
  const longDone = longs?.stop();
  const op: Op = { kind, stamp, ok: r.code === 0, wall: r.seconds, phases: {}, bytesSent: 0, rawSize: 0, maxRssMb: r.maxRssMb };
  if (served) op.served = await served;
  if (rollback && r.code === 0) {
    // The switch's own line (--json keeps the hosts' lines out of the output): in its log, the last run's.
    const log = (await onVm(info, ["tail", "-n", "40", "/srv/qdeploy/hello/switch.log"])).stdout;
    const last = log.slice(log.lastIndexOf("\n== "));
    const flip = /took the traffic back \(started nothing, (\d+) ms into the switch\)/.exec(last);
    if (flip) op.flipMs = Number(flip[1]);
  }
  if (r.code !== 0) {
    op.error = `exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 500)}`;
    log(`${kind} ${stamp} FAILED ${op.error}`);
  } else {
    op.report = JSON.parse(r.stdout) as DeployReport;
    op.bytesSent = op.report.hosts.reduce((a, h) => a + h.bytesSent, 0);
  }
  op.phases = await switchPhases(info);
  op.binary = await liveBinary(info, dir);
  if (op.binary) op.rawSize = statSync(op.binary).size;
  if (longDone) pendingLongs.push(longDone);
  const s = op.report?.seconds;
  const rb = rollback ? `, serving ${stamps.live} after ${op.served?.toFixed(2) ?? "?"}s${op.flipMs === undefined ? " (a full switch)" : ` (flip ${op.flipMs} ms into the switch)`}` : "";
  log(`${kind} ${stamp}: ${s ? s.total.toFixed(1) : "?"}s (drain ${op.phases.drain?.toFixed(1) ?? "?"}s), ${op.bytesSent} bytes sent, peak RSS ${op.maxRssMb.toFixed(0)} MB${rb}`);
  return op;
}

// ---------------------------------------------------------------------------------------
// The floor: what a person does by hand, same binary, same VM

const FLOOR_DIR = "/opt/floor-hello";

/** A plain unit running the binary on another port, not behind Caddy: what a person sets up by hand. */
async function floorSetup(info: SandboxInfo, binary: string): Promise<void> {
  const sha = path.basename(binary);
  const unit = `[Unit]\nDescription=by-hand floor for the qdeploy benchmark\n[Service]\nEnvironment=PORT=${FLOOR_PORT}\nExecStart=${FLOOR_DIR}/hello serve\n`;
  const r = await onVm(info, ["bash", "-c", `set -e; mkdir -p ${FLOOR_DIR}; cp /srv/qdeploy/hello/blobs/${sha} ${FLOOR_DIR}/hello; cat > /etc/systemd/system/floor-hello.service; systemctl daemon-reload; systemctl restart floor-hello`], unit);
  if (r.code !== 0) throw new Error(`floor setup failed: ${r.stderr}`);
}

/** `gzip -c BIN | ssh vm 'gunzip > file && mv ... && systemctl restart'`, timed, n times. */
async function floorRuns(info: SandboxInfo, binary: string, n: number): Promise<number[]> {
  const remote = `gunzip > ${FLOOR_DIR}/hello.new && chmod 755 ${FLOOR_DIR}/hello.new && mv -f ${FLOOR_DIR}/hello.new ${FLOOR_DIR}/hello && systemctl restart floor-hello`;
  const cmd = `gzip -c ${quoteArgv([binary])} | ${quoteArgv(sandboxSshArgv(info, ["sh", "-c", remote]))}`;
  const runs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    const r = await sh(cmd);
    runs.push((now() - t) / 1000);
    if (r.code !== 0) throw new Error(`floor run failed: ${r.out}`);
  }
  return runs;
}

/** What the floor costs users: connections to the app refused during one plain `systemctl restart`; then removes the unit. */
async function floorDropsAndCleanup(info: SandboxInfo): Promise<string> {
  const probe = await onVm(info, ["bash", "-c", `ok=0; bad=0; (sleep 0.3; systemctl restart floor-hello) & end=$((SECONDS+3)); while (( SECONDS < end )); do if (exec 3<>/dev/tcp/127.0.0.1/${FLOOR_PORT}) 2>/dev/null; then ok=$((ok+1)); else bad=$((bad+1)); fi; sleep 0.01; done; wait; echo "$ok $bad"`]);
  await onVm(info, ["bash", "-c", `systemctl stop floor-hello; rm -f /etc/systemd/system/floor-hello.service; systemctl daemon-reload; rm -rf ${FLOOR_DIR}`]);
  const [okN, badN] = probe.stdout.trim().split(" ").map(Number);
  return Number.isFinite(badN) && Number.isFinite(okN) ? `${badN} of ${okN! + badN!} connection attempts (every 10 ms for 3 s) were refused around one restart` : "not measured";
}

// ---------------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(1));
const f2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "–" : x.toFixed(2));
const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;

/** QEMU processes other than this benchmark's VM (the e2e suite's, say): they share the CPUs. */
let otherVmsSeen = 0;
async function countOtherVms(): Promise<number> {
  const n = Number((await sh(`ps -eo pid=,args= | grep '[q]emu-system' | grep -v ${quoteArgv([STATE])} | wc -l`)).out.trim()) || 0;
  otherVmsSeen = Math.max(otherVmsSeen, n);
  return n;
}

async function machine() {
  const cpus = os.cpus();
  const others = await countOtherVms();
  const go = (await sh("go version")).out.trim();
  return {
    cpu: cpus[0]?.model ?? "?",
    nproc: cpus.length,
    memGb: (os.totalmem() / 2 ** 30).toFixed(1),
    kernel: os.release(),
    os: (await sh(". /etc/os-release && echo $PRETTY_NAME")).out.trim(),
    go,
    bun: Bun.version,
    wrk: (await sh("wrk -v 2>&1 | head -1")).out.trim(),
    otherVms: Number(others) || 0,
    commit: (await sh(`cd ${quoteArgv([REPO])} && git rev-parse --short HEAD && git status --porcelain -- src server caddy systemd bin | head -1`)).out.trim().split("\n"),
  };
}

async function main() {
  await ensureTools();
  mkdirSync(STATE, { recursive: true });
  const started = new Date();
  const mach = await machine();
  const opts = { projectDir: STATE, ...PORTS, log: (l: string) => log(`[sandbox] ${l}`) };
  const wasRunning = (await sandboxStatus(opts)).running;
  const info = await sandboxUp(opts);
  let exitCode = 1;
  try {
    exitCode = slugOnly ? await slugRowOnly(info) : await bench(info, mach, started);
  } finally {
    if (!keepVm) {
      await sandboxDown(opts);
      log(wasRunning ? "sandbox stopped (it was running before; --keep-vm keeps it)" : "sandbox stopped");
    }
  }
  process.exit(exitCode);
}

/** The pushes whose code changes (changeCode), by what changes. */
const CODE_CHANGES = { line: "push (no load, one line of Go)", package: "push (no load, a new file using a new package)" } as const;

/** One line of the app's Go (an error message), or a new file that brings in encoding/json. */
function changeCode(dir: string, what: keyof typeof CODE_CHANGES): void {
  if (what === "line") {
    const file = path.join(dir, "cmd/hello/main.go");
    const text = readFileSync(file, "utf8");
    if (!text.includes('"ms must be a number of milliseconds"')) throw new Error(`bench: ${file} no longer has the line the benchmark changes`);
    writeFileSync(file, text.replace('"ms must be a number of milliseconds"', '"ms must be a whole number of milliseconds"'));
  } else {
    writeFileSync(
      path.join(dir, "cmd/hello/bench_change.go"),
      'package main\n\nimport (\n\t"encoding/json"\n\t"os"\n)\n\n// Written by the benchmark: a change that brings in a package.\nfunc init() {\n\tif os.Getenv("HELLO_BENCH_JSON") != "" {\n\t\t_ = json.NewEncoder(os.Stdout).Encode(map[string]string{"bench": "change"})\n\t}\n}\n',
    );
  }
}

async function bench(info: SandboxInfo, mach: Awaited<ReturnType<typeof machine>>, started: Date): Promise<number> {
  // A fresh app on the VM, like the e2e suite's beforeAll.
  await onVm(info, ["bash", "-c", "systemctl stop 'hello-*' floor-hello 2>/dev/null; rm -rf /srv/qdeploy/hello /etc/caddy/qdeploy/hello.caddy /opt/floor-hello; true"]);
  const hostZstd = (await onVm(info, ["sh", "-c", "command -v zstd"])).code === 0;
  const dir = makeProject("bench");
  const ops: Op[] = [];

  log("first push (not under load)");
  const first = await runOp(info, dir, "first push (no load)", "b0", null);
  ops.push(first);
  if (!first.ok) throw new Error(`the first push failed: ${first.error}`);
  const page = await get(info);
  if (page.status !== 200) throw new Error(`the app does not answer after the first push: ${page.status} ${page.body}`);

  log(`load: wrk -t${K.threads} -c${K.connections}, ${K.delayMs} ms between a connection's requests; ${K.long} × ${K.longMs} ms requests in flight at every switch`);
  const load = new Load(info);
  const t0 = now();
  await load.next("steady", "before");
  await pause();
  let stamp = 0;
  let lastChanged = "b0";
  const rounds = Math.max(K.pushes, K.rollbacks);
  for (let i = 0; i < rounds; i++) {
    if (i < K.pushes) {
      lastChanged = `b${++stamp}`;
      ops.push(await runOp(info, dir, "push", lastChanged, load));
      await pause();
    }
    if (i < K.rollbacks) {
      ops.push(await runOp(info, dir, "rollback", "", load));
      await pause();
    }
  }
  // Same code as the last changed push: its binary is on the host already.
  ops.push(await runOp(info, dir, "push (unchanged binary)", lastChanged, load));
  await pause();

  // The floor, with the binary of the last changed push: under the same load, then without.
  const floorBin = ops.filter((o) => o.kind === "push" && o.binary).at(-1)?.binary ?? first.binary!;
  log(`floor under load: gzip | ssh 'gunzip > file' + systemctl restart, ${K.floorRuns} runs`);
  await floorSetup(info, floorBin);
  await load.next("floor", "by-hand floor");
  const floorLoaded = await floorRuns(info, floorBin, K.floorRuns);
  await load.next("steady", "after the floor");
  await pause();
  await load.stop();
  const loadSeconds = (now() - t0) / 1000;

  log("without load: two pushes of code changes, one push, one rollback (to the warm standby), a push logging in afresh, one of each with web.standby = 0, the floor");
  // The pushes above change the version stamp alone, which a patch carries in a few hundred
  // bytes; these two change the code, as a day's commits do.
  changeCode(dir, "line");
  ops.push(await runOp(info, dir, CODE_CHANGES.line, `b${++stamp}`, null));
  changeCode(dir, "package");
  ops.push(await runOp(info, dir, CODE_CHANGES.package, `b${++stamp}`, null));
  ops.push(await runOp(info, dir, "push (no load)", `b${++stamp}`, null));
  ops.push(await runOp(info, dir, "rollback (no load)", "", null));
  // What the floor does: log in afresh (the others use the connection the command before kept,
  // ssh.persist). The next push writes deploy.toml without that setting again.
  ops.push(await runOp(info, dir, "push (no load, a new connection)", `b${++stamp}`, null));
  ops.push(await runOp(info, dir, "push (no load, standby off)", `b${++stamp}`, null));
  ops.push(await runOp(info, dir, "rollback (no load, outside the window)", "", null));
  const floorIdle = await floorRuns(info, floorBin, K.floorRuns);
  const dropped = await floorDropsAndCleanup(info);
  const gzipSize = Number((await sh(`gzip -c ${quoteArgv([floorBin])} | wc -c`)).out.trim());
  const zstdSize = Bun.which("zstd") ? Number((await sh(`zstd -3 -c -q ${quoteArgv([floorBin])} | wc -c`)).out.trim()) : NaN;

  // ---- numbers
  const all = summarize(load.segments);
  const steady = summarize(load.segments.filter((s) => s.kind === "steady"));
  const during = summarize(load.segments.filter((s) => s.kind === "switch"));
  const longs = longResults;
  const longFailed = longs.filter((l) => l.status !== 200);
  const measured = ops.filter((o) => o.kind !== "first push (no load)");
  const failedOps = measured.filter((o) => !o.ok);
  const pushes = measured.filter((o) => o.kind === "push" && o.ok);
  const rollbacks = measured.filter((o) => o.kind === "rollback" && o.ok);
  const unchanged = measured.find((o) => o.kind === "push (unchanged binary)");
  const pushMed = median(pushes.map((o) => o.report!.seconds.total));
  const pushNoDrainMed = median(pushes.map((o) => o.report!.seconds.total - (o.phases.drain ?? 0)));
  const rbMed = median(rollbacks.map((o) => o.report!.seconds.total));
  const floorMed = median(floorLoaded);
  const floorIdleMed = median(floorIdle);
  const idlePush = measured.find((o) => o.kind === "push (no load)" && o.ok);
  const idleRb = measured.find((o) => o.kind === "rollback (no load)" && o.ok);
  const idlePushS = idlePush?.report?.seconds.total ?? NaN;
  const freshPushS = measured.find((o) => o.kind === "push (no load, a new connection)" && o.ok)?.report?.seconds.total ?? NaN;
  const idleRbS = idleRb?.report?.seconds.total ?? NaN;
  // Rollbacks inside the standby window (every rollback but the last: it follows a push with web.standby = 0).
  const inWindow = measured.filter((o) => (o.kind === "rollback" || o.kind === "rollback (no load)") && o.ok);
  const flips = inWindow.map((o) => o.flipMs ?? NaN);
  const idleServed = idleRb?.served ?? NaN;
  const loadServed = median(rollbacks.map((o) => o.served ?? NaN));
  const outside = measured.find((o) => o.kind === "rollback (no load, outside the window)" && o.ok);
  const outsideS = outside?.report?.seconds.total ?? NaN;
  const changedBytes = pushes.map((o) => o.bytesSent / o.rawSize).filter(Number.isFinite);
  const peakRss = Math.max(...ops.map((o) => o.maxRssMb));
  const drains = measured.map((o) => o.phases.drain).filter((x): x is number => x !== undefined);

  const targets: [string, string, boolean][] = [
    ["0 failed requests across all switches", `${all.failed} (${all.non2xx} non-2xx, ${all.socket} socket errors)`, all.failed === 0 && load.problems.length === 0],
    ["every long request completes", `${longs.length - longFailed.length} of ${longs.length}`, longFailed.length === 0 && longs.length > 0],
    ["push ≤ 1.5 × by-hand floor (under load, medians)", `${f2(pushMed / floorMed)} × (push ${f1(pushMed)} s, floor ${f2(floorMed)} s)`, pushMed <= 1.5 * floorMed],
    ["push ≤ 1.5 × by-hand floor (no load)", `${f2(idlePushS / floorIdleMed)} × (push ${f1(idlePushS)} s, floor ${f2(floorIdleMed)} s)`, idlePushS <= 1.5 * floorIdleMed],
    ["the same, logging in afresh as the floor does (ssh.persist = \"0\")", `${f2(freshPushS / floorIdleMed)} × (push ${f1(freshPushS)} s)`, freshPushS <= 1.5 * floorIdleMed],
    ...Object.values(CODE_CHANGES).map((kind): [string, string, boolean] => {
      const o = measured.find((x) => x.kind === kind && x.ok);
      const t = o?.report?.seconds.total ?? NaN;
      return [`the same after ${kind.replace(/^push \(no load, /, "").replace(/\)$/, "")}`, `${f2(t / floorIdleMed)} × (push ${f1(t)} s, ${o ? `${o.bytesSent.toLocaleString("en")} B sent` : "failed"})`, t <= 1.5 * floorIdleMed];
    }),
    ["rollback ≤ 0.5 × push (under load, medians)", `${f2(rbMed / pushMed)} × (rollback ${f1(rbMed)} s)`, rbMed <= 0.5 * pushMed],
    ["rollback ≤ 0.5 × push (no load)", `${f2(idleRbS / idlePushS)} × (rollback ${f1(idleRbS)} s)`, idleRbS <= 0.5 * idlePushS],
    ["rollback inside the standby window: command start → the old release serving ≤ 1.5 s (no load)", `${f2(idleServed)} s`, idleServed <= 1.5],
    ["the same under load (median)", `${f2(loadServed)} s`, loadServed <= 1.5],
    ["every rollback inside the window is a flip, its host-side flip ≤ 0.3 s", `${flips.filter(Number.isFinite).length} of ${inWindow.length} flips, slowest ${Math.max(...flips)} ms`, flips.length > 0 && flips.every((f) => f <= 300)],
    ["rollback outside the window ≤ 0.5 × push (no load)", `${f2(outsideS / idlePushS)} × (rollback ${f1(outsideS)} s)`, outsideS <= 0.5 * idlePushS],
    ["0 bytes for an unchanged binary", unchanged?.ok ? `${unchanged.bytesSent} B` : "push failed", Boolean(unchanged?.ok) && unchanged!.bytesSent === 0],
    ["every push/rollback succeeded", `${measured.length - failedOps.length} of ${measured.length}`, failedOps.length === 0],
  ];

  // ---- the fleet row: three VMs, in the same run
  const fleet = K.fleet
    ? await benchFleet({ projectDir: STATE, ports: PORTS, cli, log, runs: K.fleetRuns, keepVms: keepVm }).catch((e: Error) => {
        log(`fleet bench FAILED: ${e.message}`);
        return { section: ["## Fleet", "", `**Failed:** \`${e.message.replace(/\s+/g, " ").slice(0, 400)}\``, ""], target: ["push to 3 hosts ≤ 1.5 × push to 1 host (no load, medians)", "failed", false] as [string, string, boolean] };
      })
    : null;
  if (fleet) targets.push(fleet.target);
  const slug = K.slug ? await slugSection(info) : null;

  // ---- RESULTS.md
  const L: string[] = [];
  L.push("# qdeploy benchmark results", "");
  L.push(`Written by \`node_modules/.bin/bun bench/run.ts\` on ${started.toISOString().slice(0, 16).replace("T", " ")} UTC. Rerun it to replace this file.`, "");
  L.push("## Machine", "");
  L.push("| | |", "| --- | --- |");
  L.push(`| CPU | ${mach.cpu} (nproc ${mach.nproc}) |`);
  L.push(`| memory | ${mach.memGb} GiB |`);
  L.push(`| OS, kernel | ${mach.os}, ${mach.kernel} |`);
  L.push(`| server | the sandbox VM: Debian bookworm under QEMU TCG (software emulation, 2 vCPUs, 1 GiB) |`);
  L.push(`| other VMs running meanwhile | ${otherVmsSeen ? `up to ${otherVmsSeen} (sampled before each push/rollback; they share the CPUs: slower numbers than on an idle machine)` : "none (sampled before each push/rollback)"} |`);
  L.push(`| qdeploy | commit ${mach.commit[0]}${mach.commit[1] ? " with uncommitted changes to src/server" : ""} |`);
  L.push(`| tools | ${mach.go}; Bun ${mach.bun}; ${mach.wrk} |`, "");

  L.push("## Targets", "");
  L.push("| target | measured | |", "| --- | --- | --- |");
  for (const [t, m, ok] of targets) L.push(`| ${t} | ${m} | ${ok ? "met" : "**missed**"} |`);
  L.push("");

  L.push("## Each push and rollback", "");
  L.push("Seconds. `total` is the CLI's own (DeployReport); `wall` includes starting Bun. `switch` is the release batch (files + the server-side switch, drain included); `start`, `route`, `caddy load`, `drain` are the switch's phases from the VM's journal (the VM's clock): `start` is the new slot's `Started` → the app's `listening on`; `route` is from there to the old slot's `Stopping` (the switch's health wait, Caddy routing to the new slot — a Caddy config load only when the site file changed, shown in `caddy load` — `current`, enabling units, the 0.2 s hand-over before the old slot's SIGTERM); `drain` is the old slot's `Stopping` → `Stopped` (it finishes its in-flight requests, the long ones included). What the switch does besides (writing the release's files over SSH, restarting the workers, the audit line) is the rest of `switch`.", "");
  L.push("| # | kind | stamp | wall | total | connect | lock+facts | build | upload | switch | start | route | caddy load | drain | bytes sent | raw binary | peak RSS |");
  L.push("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  ops.forEach((o, i) => {
    const s = o.report?.seconds;
    const h = o.report?.hosts[0]?.seconds;
    L.push(`| ${i} | ${o.kind}${o.ok ? "" : " **FAILED**"} | ${o.stamp || "(previous)"} | ${f1(o.wall)} | ${f1(s?.total)} | ${f2(s?.connect)} | ${f2(s ? (s.lock ?? 0) + (s.facts ?? 0) + (s.lockAndFacts ?? 0) : undefined)} | ${f2(s?.build)} | ${f2(h?.upload)} | ${f1(h?.release)} | ${f2(o.phases.start)} | ${f2(o.phases.route)} | ${f2(o.phases.caddy)} | ${f2(o.phases.drain)} | ${o.bytesSent.toLocaleString("en")} | ${o.rawSize ? o.rawSize.toLocaleString("en") : "–"} | ${o.maxRssMb.toFixed(0)} MB |`);
  });
  L.push("");
  L.push(`Medians under load: push ${f1(pushMed)} s (${f1(pushNoDrainMed)} s without the drain), rollback ${f1(rbMed)} s, drain ${f1(median(drains))} s.`, "");
  L.push("## Rollbacks", "");
  L.push("After a push the previous release's web slot stays running for `web.standby` (default 15 min): a rollback inside that window flips Caddy to it and starts nothing. `served` is from the command's start (Bun's included) until `GET /` answers the old release's body, polled every 20 ms in the benchmark's process over one kept-alive connection, through Caddy; `flip` is the switch's own time from its start to the flip (its output line). The last rollback follows a push with `web.standby = \"0\"`: the full health-gated switch.", "");
  L.push("| # | kind | total | served | flip |", "| --- | --- | ---: | ---: | ---: |");
  ops.forEach((o, i) => {
    if (o.kind.startsWith("rollback")) L.push(`| ${i} | ${o.kind}${o.ok ? "" : " **FAILED**"} | ${f2(o.report?.seconds.total)} | ${f2(o.served)} | ${o.flipMs === undefined ? "– (a full switch)" : `${o.flipMs} ms`} |`);
  });
  L.push("");
  if (failedOps.length) {
    L.push("Failures:", "");
    for (const o of failedOps) L.push(`- ${o.kind} ${o.stamp}: \`${o.error?.replace(/\s+/g, " ").slice(0, 300)}\``);
    L.push("");
  }

  L.push("## Load", "");
  L.push(`\`wrk -t${K.threads} -c${K.connections} --timeout 30s -s bench/load.lua https://hello.localhost:${info.httpsPort}/\` through Caddy (TLS with SNI \`hello.localhost\`, connected to 127.0.0.1; ${K.delayMs} ms between a connection's requests), for ${f1(loadSeconds)} s in back-to-back segments: \`switch\` from a push/rollback's start to its end, \`steady\` otherwise. Failed = non-2xx responses + socket errors (connect, read, write, timeout).`, "");
  L.push("| | requests | failed | non-2xx | socket errors | req/s | p50 ms | p99 ms | max ms |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [name, s] of [["steady", steady], ["during switches", during], ["all", all]] as const) {
    const e = s.errors;
    L.push(`| ${name} | ${s.requests} | ${s.failed} | ${s.non2xx} | ${s.socket}${s.socket ? ` (connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout})` : ""} | ${f1(s.requests / s.seconds)} | ${f1(s.p50)} | ${f1(s.p99)} | ${f1(s.max)} |`);
  }
  L.push("");
  if (all.errors.read > 0) {
    L.push(`Read errors: wrk saw its TLS connection to Caddy closed before a response came (${during.errors.read} of ${all.errors.read} during switches). wrk does not retry; browsers and most HTTP clients retry an idempotent request once when a keep-alive connection closes under it, but by this benchmark's definition it is a failed request.`, "");
  }
  for (const p of load.problems) L.push(`- load generator problem: ${p}`);
  if (load.problems.length) L.push("");

  L.push("## Long requests", "");
  L.push(`${K.long} loops of \`GET /slow?ms=${K.longMs}\` (curl, through Caddy) run from each push/rollback's start to its end, so ${K.long} are in flight whenever the switch happens and the old slot has to drain them.`, "");
  L.push(`Completed with 200: **${longs.length - longFailed.length} of ${longs.length}**; slowest ${f2(Math.max(...longs.map((l) => l.seconds)))} s.`, "");
  for (const l of longFailed.slice(0, 20)) L.push(`- ${l.op}: status ${l.status} after ${f2(l.seconds)} s ${l.body ? `\`${l.body.trim()}\`` : ""}`);
  if (longFailed.length) L.push("");

  L.push("## Against the by-hand floor", "");
  L.push(`The floor, in the same run, for the same binary (${mb(statSync(floorBin).size)} raw): \`gzip -c BIN | ssh root@vm 'gunzip > file && mv … && systemctl restart floor-hello'\` (a new ssh connection each time, as a person would) of a plain unit on port ${FLOOR_PORT}: no health check, no Caddy switch, no release kept for a rollback, no build. qdeploy's pushes and rollbacks (but the first, and the one marked "a new connection") use the SSH connection the command before kept open (\`ssh.persist\`, default 60 s), as OpenSSH's ControlPersist would for a person. It drops requests: ${dropped}. Measured ${K.floorRuns} times under the same wrk load as the pushes (Caddy keeps serving it meanwhile), then ${K.floorRuns} times without load, next to one push and one rollback without load.`, "");
  L.push("| seconds | under load | no load |", "| --- | ---: | ---: |");
  L.push(`| floor (median; runs) | ${f2(floorMed)} (${floorLoaded.map(f2).join(", ")}) | ${f2(floorIdleMed)} (${floorIdle.map(f2).join(", ")}) |`);
  L.push(`| push (median of ${pushes.length} under load) | ${f1(pushMed)} | ${f1(idlePushS)} |`);
  L.push(`| push without its drain | ${f1(pushNoDrainMed)} | ${f1(idlePushS - (idlePush?.phases.drain ?? 0))} |`);
  L.push(`| push logging in afresh (ssh.persist = "0") | – | ${f1(freshPushS)} |`);
  L.push(`| rollback (median of ${rollbacks.length} under load) | ${f1(rbMed)} | ${f1(idleRbS)} |`);
  L.push(`| **push / floor** | **${f2(pushMed / floorMed)}** | **${f2(idlePushS / floorIdleMed)}** |`);
  L.push(`| **rollback / push** | **${f2(rbMed / pushMed)}** | **${f2(idleRbS / idlePushS)}** |`, "");

  L.push("## Bytes sent", "");
  const rawFloor = statSync(floorBin).size;
  L.push(`qdeploy compresses with ${hostZstd ? "**zstd** (the host has `zstd`; Node's zlib zstd at its default level 3)" : "**gzip** (the host has no `zstd`)"}. A changed binary sent ${changedBytes.length ? `${(100 * median(changedBytes)).toFixed(1)} %` : "–"} of its raw size (median); an unchanged one ${unchanged?.ok ? `${unchanged.bytesSent} bytes` : "–"}; a rollback ${rollbacks.length ? `${Math.max(...rollbacks.map((o) => o.bytesSent))} bytes` : "–"}.`, "");
  L.push("| same binary | bytes | of raw |", "| --- | ---: | ---: |");
  L.push(`| raw | ${rawFloor.toLocaleString("en")} | 100 % |`);
  const lastPush = pushes.at(-1);
  if (lastPush) L.push(`| qdeploy sent (${hostZstd ? "zstd: a patch against the live binary" : "gzip"}) | ${lastPush.bytesSent.toLocaleString("en")} | ${(100 * lastPush.bytesSent / lastPush.rawSize).toFixed(1)} % |`);
  L.push(`| gzip -6 (the floor) | ${gzipSize.toLocaleString("en")} | ${(100 * gzipSize / rawFloor).toFixed(1)} % |`);
  if (Number.isFinite(zstdSize)) L.push(`| zstd -3 (CLI), the whole binary | ${zstdSize.toLocaleString("en")} | ${(100 * zstdSize / rawFloor).toFixed(1)} % |`);
  L.push("");
  L.push("A changed binary goes as a zstd patch against the live release's (`zstd --patch-from`, when this machine has that build and both ends have zstd). What each kind of change sent (no load):", "");
  L.push("| change | bytes sent | of raw | push (s) |", "| --- | ---: | ---: | ---: |");
  for (const kind of ["push (no load)", ...Object.values(CODE_CHANGES)]) {
    const o = measured.find((x) => x.kind === kind && x.ok);
    const what = kind === "push (no load)" ? "the version stamp (the pushes above)" : kind.replace(/^push \(no load, /, "").replace(/\)$/, "");
    if (o) L.push(`| ${what} | ${o.bytesSent.toLocaleString("en")} | ${(100 * o.bytesSent / o.rawSize).toFixed(1)} % | ${f1(o.report?.seconds.total)} |`);
  }
  L.push("");

  L.push("## Memory", "");
  L.push(`Peak resident set of the qdeploy process (\`/usr/bin/time -v\`, Bun included): **${peakRss.toFixed(0)} MB** (max over all runs; push median ${f1(median(pushes.map((o) => o.maxRssMb)))} MB, rollback median ${f1(median(rollbacks.map((o) => o.maxRssMb)))} MB).`, "");

  if (slug) L.push(...slug);
  if (fleet) L.push(...fleet.section);

  writeFileSync(path.join(BENCH, "RESULTS.md"), L.join("\n"));
  rmSync(dir, { recursive: true, force: true }); // the throwaway project and its builds

  // ---- summary
  console.log("");
  for (const [t, m, ok] of targets) console.log(`${ok ? "met   " : "MISSED"}  ${t}: ${m}`);
  console.log(`load: ${all.requests} requests, ${all.failed} failed; p50/p99 steady ${f1(steady.p50)}/${f1(steady.p99)} ms, during switches ${f1(during.p50)}/${f1(during.p99)} ms`);
  console.log(`peak RSS ${peakRss.toFixed(0)} MB; results in bench/RESULTS.md`);
  const requestsFailed = all.failed > 0 || longFailed.length > 0 || load.problems.length > 0 || failedOps.length > 0 || fleet?.target[1] === "failed";
  return requestsFailed ? 1 : 0;
}

/** The slug row, or its failure as the section (the rest of the bench still reports). */
async function slugSection(info: SandboxInfo): Promise<string[]> {
  return benchSlug({ info, cli, log, runs: K.slugRuns }).catch((e: Error) => {
    log(`slug bench FAILED: ${e.message}`);
    return ["## The slug", "", `**Failed:** \`${e.message.replace(/\s+/g, " ").slice(0, 400)}\``, ""];
  });
}

/** --slug-only: the slug row alone, put in place of RESULTS.md's slug section (or before ## Fleet). */
async function slugRowOnly(info: SandboxInfo): Promise<number> {
  const section = await slugSection(info);
  const file = path.join(BENCH, "RESULTS.md");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "# qdeploy benchmark results\n";
  const at = text.search(/^## The slug$/m);
  const end = at < 0 ? -1 : text.slice(at + 1).search(/^## /m);
  const next = text.search(/^## Fleet$/m);
  const updated =
    at >= 0 ? text.slice(0, at) + section.join("\n") + (end < 0 ? "" : `\n${text.slice(at + 1 + end)}`)
    : next >= 0 ? `${text.slice(0, next)}${section.join("\n")}\n${text.slice(next)}`
    : `${text.trimEnd()}\n\n${section.join("\n")}\n`;
  writeFileSync(file, updated);
  return section.some((l) => l.startsWith("**Failed:**")) ? 1 : 0;
}

await main();
