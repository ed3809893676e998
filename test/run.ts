/**
 * `npm test`: every test file, in two lanes that run at once (test/lanes.ts plans them), each
 * with its own sandbox VM that stays up from its first e2e file to the end of the run; the unit
 * files in the first lane to end; then the fleet's file (it boots VMs of its own) in lane 1, the
 * other lanes' VMs stopped first.
 * `npm run test:quick` (--quick): the unit files only, no VM. --lanes 1: one lane, as `bun test`.
 *
 * Each VM file runs as its own `bun test FILE`, so its time is measured; its output is printed
 * when it ends, whole (the lanes never interleave inside a file's output), after a line when it
 * starts. The end is bun's own closing lines, summed: " N pass", " N fail".
 * --update-timings writes the measured seconds to test/timings.json, which plans the next run.
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { goTarget } from "../src/build/arch.ts";
import { buildBinary } from "../src/build/go-build.ts";
import { ensureVmTools } from "../src/sandbox/host-tools.ts";
import { ensureSandboxImage, sandboxDown } from "../src/sandbox/index.ts";
import { countsOf, failuresOf, jobsFor, laneEnv, planRun, type Counts, type Job } from "./lanes.ts";

const REPO = path.resolve(import.meta.dir, "..");
const TIMINGS = path.join(REPO, "test/timings.json");
const LOGS = path.join(REPO, ".qdeploy/test-logs");
const argv = process.argv.slice(2);
const args = new Set(argv);
const quick = args.has("--quick");
const LANES = argv.includes("--lanes") ? Number(argv[argv.indexOf("--lanes") + 1]) : 2;
if (!Number.isInteger(LANES) || LANES < 1 || LANES > 4) throw new Error(`--lanes takes 1..4, not ${argv[argv.indexOf("--lanes") + 1]}`);

function testFiles(): string[] {
  const files: string[] = [];
  for (const pattern of ["src/**/*.test.{ts,tsx}", "test/**/*.test.ts"]) files.push(...new Bun.Glob(pattern).scanSync({ cwd: REPO }));
  return files.sort();
}

interface Done {
  job: Job;
  lane: number;
  seconds: number;
  counts: Counts;
  /** What it printed for each failed test (a file that failed without a test's failure: its last lines). */
  failures: string[];
}

/** Runs one job's bun test with its output in a log file; prints the log when it ends. */
async function runJob(job: Job, lane: number, env: Record<string, string>): Promise<Done> {
  const log = path.join(LOGS, `${job.name.replaceAll("/", "_")}.log`);
  const fd = openSync(log, "w");
  console.log(`[lane ${lane}] ${job.name}: started`);
  const t = performance.now();
  const child = spawn(process.execPath, ["test", ...job.files], { cwd: REPO, env: { ...process.env, ...env }, stdio: ["ignore", fd, fd] });
  const code = await new Promise<number>((resolve) => child.on("close", (c, signal) => resolve(c ?? (signal ? 128 : 1))));
  closeSync(fd);
  const seconds = (performance.now() - t) / 1000;
  const output = readFileSync(log, "utf8");
  const counts = countsOf(output, code);
  console.log(`\n===== [lane ${lane}] ${job.name}: ${seconds.toFixed(0)} s, ${counts.pass} pass, ${counts.fail} fail =====\n${output.trimEnd()}\n`);
  const failures = failuresOf(output);
  if (counts.fail > failures.length) failures.push(output.trimEnd().split("\n").slice(-30).join("\n"));
  return { job, lane, seconds, counts, failures };
}

/**
 * QEMU and the image, once, before any VM job: two lanes would otherwise both run apt-get
 * (one fails on dpkg's lock) and build the image twice. The unit files do not wait for it.
 */
let vmReady: Promise<void> | undefined;
function prepareVms(): Promise<void> {
  const log = (l: string) => console.log(`[sandbox] ${l}`);
  vmReady ??= Promise.all([ensureVmTools(log).then(() => ensureSandboxImage(log)), warmGoCache()]).then(() => {});
  return vmReady;
}

/**
 * Go's build cache, filled while the image builds (mmdebstrap leaves a core idle): the lanes'
 * first pushes (examples/hello, examples/notes) start together and would each compile the
 * standard library for the sandbox at once, twice (go shares no compile in progress). Built as
 * a push builds them (src/build/go-build.ts), one after the other so the second reuses the
 * first. A failure is only logged: the push that needs the build says it again.
 */
async function warmGoCache(): Promise<void> {
  const out = mkdtempSync(path.join(tmpdir(), "qdeploy-warm-"));
  const t = performance.now();
  try {
    for (const name of ["hello", "notes"]) {
      const build = { main: `./cmd/${name}`, binary: name, cgo: false, ldflags: "", tags: [], stamp: null };
      await buildBinary({ root: path.join(REPO, "examples", name), build, target: goTarget("x86_64"), gitSha: null, outDir: out });
    }
    console.log(`[go] the build cache holds examples/hello and examples/notes for the sandbox (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  } catch (e) {
    console.log(`[go] could not warm the build cache (the first pushes build cold): ${(e as Error).message}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function runLane(jobs: Job[], lane: number): Promise<Done[]> {
  // Two VMs of 2 vCPUs each are four TCG threads on 2 cores, which fight (see vmCpus).
  const env = { ...laneEnv(lane, REPO, process.env), ...(LANES > 1 && { QDEPLOY_SANDBOX_CPUS: "1" }) };
  const done: Done[] = [];
  for (const job of jobs) {
    if (job.vm) await prepareVms();
    done.push(await runJob(job, lane, env));
  }
  return done;
}

/** Stops the VMs of lanes `from`..LANES (the e2e suites leave them up for the next file). */
async function stopVms(from = 1): Promise<void> {
  const dirs = Array.from({ length: LANES - from + 1 }, (_, i) => laneEnv(from + i, REPO, process.env).QDEPLOY_E2E_PROJECT ?? REPO);
  await Promise.all(dirs.map((projectDir) => sandboxDown({ projectDir, log: (l) => console.log(`[sandbox] ${l}`) }).catch(() => {})));
}

const timings: Record<string, number> = JSON.parse(readFileSync(TIMINGS, "utf8"));
const jobs = jobsFor(testFiles()).filter((j) => !quick || !j.vm);
const plan = planRun(jobs, timings, quick ? 1 : LANES);
mkdirSync(LOGS, { recursive: true });
for (const [i, lane] of plan.first.entries()) console.log(`lane ${i + 1}: ${lane.map((j) => j.name).join(", ")}`);
if (plan.next.length) console.log(`in the first lane to end: ${plan.next.map((j) => j.name).join(", ")}`);
if (plan.last.length) console.log(`then in lane 1: ${plan.last.map((j) => j.name).join(", ")}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void stopVms().finally(() => process.exit(130)));
}
const started = performance.now();
let results: Done[];
try {
  const lanes = plan.first.map((jobs, i) => runLane(jobs, i + 1).then((done) => ({ done, lane: i + 1 })));
  // The unit files need no VM: they start in the first lane to end, while the others finish.
  const next = plan.next.length ? Promise.race(lanes).then(({ lane }) => runLane(plan.next, lane)) : Promise.resolve([]);
  results = (await Promise.all(lanes)).flatMap((l) => l.done);
  if (plan.last.length) {
    // Lane 1's VM serves the fleet as its VM 1; the others would only take memory.
    await stopVms(2);
    results.push(...(await runLane(plan.last, 1)));
  }
  results.push(...(await next));
} finally {
  if (!quick) await stopVms();
}
const wall = (performance.now() - started) / 1000;

console.log("\nseconds per job:");
for (const r of [...results].sort((a, b) => b.seconds - a.seconds)) {
  console.log(`  ${r.seconds.toFixed(0).padStart(5)}  lane ${r.lane}  ${r.job.name}${r.counts.fail ? `  (${r.counts.fail} failed)` : ""}`);
}
for (let lane = 1; lane <= plan.first.length; lane++) {
  const sum = results.filter((r) => r.lane === lane).reduce((s, r) => s + r.seconds, 0);
  console.log(`lane ${lane}: ${sum.toFixed(0)} s`);
}
if (args.has("--update-timings")) {
  const measured = Object.fromEntries(results.map((r) => [r.job.name, Math.round(r.seconds)]).sort());
  writeFileSync(TIMINGS, `${JSON.stringify({ ...timings, ...measured }, null, 2)}\n`);
  console.log(`wrote ${path.relative(REPO, TIMINGS)}`);
}
// Again at the end, where the tail of a CI log shows them.
for (const r of results.filter((r) => r.failures.length)) {
  for (const f of r.failures) console.log(`\nfailed in ${r.job.name}:\n${f}`);
}
const pass = results.reduce((s, r) => s + r.counts.pass, 0);
const fail = results.reduce((s, r) => s + r.counts.fail, 0);
console.log(`\n ${pass} pass\n ${fail} fail\nRan ${pass + fail} tests in ${results.length} bun test runs across ${plan.first.length} lanes. [${wall.toFixed(2)}s]`);
process.exit(fail ? 1 : 0);
