/**
 * Planning for `npm test` (test/run.ts), pure: which test files run in which lane, and what a
 * finished `bun test` said. A lane is a sequence of jobs with its own sandbox VM; the lanes run
 * at once. Why two: an e2e suite mostly waits on one emulated CPU (a TCG vCPU runs a bash
 * script's forks one after another), so one lane leaves part of the machine idle. The fleet's
 * file boots VMs of its own (SOLO): it runs after the lanes; the unit files, which need no VM,
 * run in the first lane to end.
 */

/** One `bun test` process: the unit files together, or one file that needs a VM. */
export interface Job {
  /** What the summary calls it: "units" or the file's path. */
  name: string;
  /** The files it passes to bun test (./-relative paths, so bun takes them as files, not filters). */
  files: string[];
  /** Whether it uses its lane's sandbox VM (e2e suites, the sandbox's own test). */
  vm: boolean;
  /** Whether it boots VMs of its own besides its lane's (the fleet): it runs after the lanes, beside no other VM. */
  solo: boolean;
}

/** Files that boot or use a sandbox VM: the e2e suites and the sandbox's own test. */
export function needsVm(file: string): boolean {
  return file.startsWith("test/e2e/") || file === "test/sandbox.test.ts";
}

/**
 * Files that boot VMs besides their lane's. Booting is all CPU: three VMs booting beside the
 * other lane's made the fleet suite take 639 s instead of 331 s, and the other lane's file
 * twice as long too (measured), so it runs once the lanes are done.
 */
const SOLO = new Set(["test/e2e/fleet.test.ts"]);

/** The jobs for these test files: all unit files as one job, then one job per VM file. */
export function jobsFor(files: string[]): Job[] {
  const units = files.filter((f) => !needsVm(f)).sort();
  const vmFiles = files.filter(needsVm).sort();
  return [
    ...(units.length ? [{ name: "units", files: units.map((f) => `./${f}`), vm: false, solo: false }] : []),
    ...vmFiles.map((f) => ({ name: f, files: [`./${f}`], vm: true, solo: SOLO.has(f) })),
  ];
}

/** A job's expected seconds: the measured ones, or a middling guess for a file never timed. */
export function expectedSeconds(job: Job, timings: Record<string, number>): number {
  return timings[job.name] ?? 120;
}

/**
 * Splits the jobs over `lanes` lanes, longest first onto the lane that ends soonest (LPT), so
 * the lanes end close together. Deterministic for the same jobs and timings.
 */
export function planLanes(jobs: Job[], timings: Record<string, number>, lanes: number): Job[][] {
  const plan: Job[][] = Array.from({ length: lanes }, () => []);
  const load = plan.map(() => 0);
  const order = [...jobs].sort((a, b) => expectedSeconds(b, timings) - expectedSeconds(a, timings) || a.name.localeCompare(b.name));
  for (const job of order) {
    const lane = load.indexOf(Math.min(...load));
    plan[lane]!.push(job);
    load[lane]! += expectedSeconds(job, timings);
  }
  return plan;
}

/**
 * A run: `first` the lanes at once; `next` (the jobs that need no VM) in the first lane to end,
 * while the others finish; `last` (the solo jobs) in lane 1 once every lane has ended.
 */
export interface RunPlan {
  first: Job[][];
  next: Job[];
  last: Job[];
}

/** With one lane, every job in order; with more, the VM jobs in lanes, the unit files as soon as a lane is free, the solo ones at the end. */
export function planRun(jobs: Job[], timings: Record<string, number>, lanes: number): RunPlan {
  if (lanes === 1) return { first: [jobs], next: [], last: [] };
  const solo = jobs.filter((j) => j.solo);
  const noVm = jobs.filter((j) => !j.vm);
  if (!solo.length) return { first: planLanes(jobs, timings, lanes), next: [], last: [] };
  return { first: planLanes(jobs.filter((j) => j.vm && !j.solo), timings, lanes), next: noVm, last: solo };
}

/** What one finished `bun test` said about its tests. */
export interface Counts {
  pass: number;
  fail: number;
}

/**
 * Reads bun test's closing lines (" 12 pass", " 0 fail"). A process that failed without
 * saying so (a file that did not load, a crash) counts one failure, so it is never lost.
 */
export function countsOf(output: string, exitCode: number): Counts {
  const last = (word: string) => {
    const all = [...output.matchAll(new RegExp(`^ *(\\d+) ${word}$`, "gm"))];
    return all.length ? Number(all.at(-1)![1]) : 0;
  };
  const counts = { pass: last("pass"), fail: last("fail") };
  if (exitCode !== 0 && counts.fail === 0) counts.fail = 1;
  return counts;
}

/**
 * What a finished `bun test` said about each failed test: the "(fail)" line and the lines
 * bun printed for it before it (the error, the diff, the stack), at most `maxLines` of them.
 * The run prints these again at its end, where a CI log's tail still shows them.
 */
export function failuresOf(output: string, maxLines = 30): string[] {
  const lines = output.split("\n");
  const failures: string[] = [];
  let start = 0;
  for (const [i, line] of lines.entries()) {
    // bun's closing list ("2 tests failed:") names the failed tests again: not new failures.
    if (/^\d+ tests? failed:$/.test(line)) break;
    if (line.startsWith("(pass)") || line.startsWith("(skip)") || line.startsWith("(todo)")) start = i + 1;
    if (!line.startsWith("(fail)")) continue;
    const block = lines.slice(start, i + 1).filter((l) => l.trim() !== "");
    // A timeout says so on the line after its (fail).
    if (/^\s*\^ this test timed out/.test(lines[i + 1] ?? "")) block.push(lines[i + 1]!);
    failures.push((block.length > maxLines ? ["…", ...block.slice(-maxLines)] : block).join("\n"));
    start = i + 1;
  }
  return failures;
}

/** The environment a lane's jobs run with: lane 1 is the sandbox as everyone knows it; lane k shifts every port by 10(k-1) and keeps its VM in its own folder. */
export function laneEnv(lane: number, repo: string, env: Record<string, string | undefined>): Record<string, string> {
  const base = (name: string, fallback: number) => Number(env[`QDEPLOY_SANDBOX_${name}_PORT`]) || fallback;
  const shift = 10 * (lane - 1);
  return {
    QDEPLOY_E2E_KEEP_VM: "1",
    ...(lane > 1 && { QDEPLOY_E2E_PROJECT: `${repo}/.qdeploy/lanes/${lane}` }),
    QDEPLOY_SANDBOX_SSH_PORT: String(base("SSH", 2222) + shift),
    QDEPLOY_SANDBOX_HTTP_PORT: String(base("HTTP", 8080) + shift),
    QDEPLOY_SANDBOX_HTTPS_PORT: String(base("HTTPS", 8443) + shift),
    QDEPLOY_SANDBOX_PROBE_PORT: String(base("PROBE", 8999) + shift),
  };
}
