/**
 * The pieces of carrying out a plan on one host through its Remote: a batch of steps as one
 * script, the uploads, the release phase. src/ops/execute.ts orders them across hosts.
 */
import { RemoteError } from "../errors.ts";
import { type EventSink, startTicker, type Ticker } from "../events.ts";
import { lineSplitter } from "../util/lines.ts";
import { renderBatchScript, STEP_MARK } from "../plan/script.ts";
import { systemdSpan } from "../util/duration.ts";
import type { ReleasePhase } from "../plan/release-phase.ts";
import { describeStep, type HostPlan, type Plan, type Step } from "../plan/steps.ts";
import { formatBytes } from "../util/bytes.ts";
import { quoteArgv } from "../util/quote.ts";

export { formatBytes };
import type { Remote, UploadResult } from "./remote.ts";
import { PRUNE_AFTER_MIN } from "../plan/push.ts";

export interface HostRunResult {
  label: string;
  bytesSent: number;
  seconds: { setup: number; upload: number; release: number };
  /** How the steps run after the release batch's (`then`) failed; the release itself was written. */
  thenFailed?: RemoteError;
}

/** A batch that failed at step `step` (its index in the batch). */
export class BatchError extends RemoteError {
  constructor(
    host: string,
    message: string,
    detail: RemoteError["detail"],
    readonly step: number,
  ) {
    super(host, message, detail);
  }
}

/**
 * Runs the release phase, its stdout and stderr streaming as the host's lines (redacted by
 * the edge, like logs). A non-zero exit, or the timeout, throws naming the command; the
 * release directories stay, unactivated, as after a failed health check.
 */
export async function runReleasePhase(remote: Remote, phase: ReleasePhase, events: EventSink): Promise<void> {
  const host = (line: string) => events({ type: "host", host: remote.label, line });
  host(`release phase: ${phase.command}`);
  const { code, how } = await runTransient(remote, phase, "release", events);
  if (how === null) {
    host("release phase done");
    return;
  }
  throw new RemoteError(remote.label, `release phase ${JSON.stringify(phase.command)} ${how === "timeout" ? `timed out after ${systemdSpan(phase.timeoutSec)} (release_timeout)` : how}; nothing was switched, ${phase.liveBefore === false ? "no release was live before it" : "the live release keeps serving"}`, {
    argv: phase.argv,
    code,
  });
}

/**
 * [hooks] remote_post_deploy on one host (src/plan/release-phase.ts planRemoteHook): its
 * output as `hook remote_post_deploy | line`; how it failed, or null. Never throws for the
 * hook's own failure: what is live stays live.
 */
export async function runRemoteHook(remote: Remote, hook: ReleasePhase, events: EventSink): Promise<string | null> {
  const { how } = await runTransient(remote, hook, "hook remote_post_deploy", events);
  if (how === null) return null;
  return `hook remote_post_deploy (${hook.command}) ${how === "timeout" ? `timed out after ${systemdSpan(hook.timeoutSec)} (hooks.timeout)` : how}`;
}

/**
 * Runs a transient unit's systemd-run argv, the unit's output as `PREFIX | line` host events;
 * its exit and how it failed: null (it succeeded), "timeout", or `exited with status N (how)`.
 */
async function runTransient(remote: Remote, t: ReleasePhase, prefix: string, events: EventSink): Promise<{ code: number; how: string | null }> {
  const host = (line: string) => events({ type: "host", host: remote.label, line });
  events({ type: "debug", line: `${remote.label} run    ${quoteArgv(t.argv)}` });
  const stdout = lineSplitter((l) => host(`${prefix} | ${l}`));
  let systemdSaid = "";
  const stderr = lineSplitter((l) => {
    // systemd-run's own lines (the unit's name, its result) say how it ended; not the app's output.
    if (/^(Running as unit: |Finished with result: |Main processes terminated with: |Service runtime: |CPU time consumed: |Memory peak: )/.test(l)) {
      systemdSaid += `${l}\n`;
      events({ type: "debug", line: `${remote.label} ${l}` });
    } else host(`${prefix} | ${l}`);
  });
  const r = await remote.exec(t.argv, { onStdout: stdout.push, onStderr: stderr.push, check: false });
  stdout.flush();
  stderr.flush();
  if (r.code === 0) return { code: 0, how: null };
  if (/Finished with result: timeout/.test(systemdSaid)) return { code: r.code, how: "timeout" };
  const ended = /Main processes terminated with: (\S+)/.exec(systemdSaid)?.[1];
  return { code: r.code, how: `exited with status ${r.code}${ended ? ` (${ended})` : ""}` };
}

/**
 * Blobs sent before the plan ran, by sha256: what each cost, the blob it was a patch against,
 * and when it was in place (Date.now()).
 */
export type EarlyBlobs = Map<string, UploadResult & { against: string; at: number }>;

export interface HostRunOptions {
  compression?: "gzip" | "zstd";
  /** Steps run in the release's batch, after it (one round trip fewer). */
  then?: Step[];
  /** Blobs sent while the lock was taken (src/ops/early-upload.ts): their uploads are done. */
  early?: EarlyBlobs;
}

/**
 * Runs a host plan's setup, upload and release phases in order; the first failure throws a
 * RemoteError. A failure in `then` is returned as `thenFailed`, as the release was written.
 */
export async function runHostPlan(remote: Remote, plan: HostPlan, events: EventSink, opts: HostRunOptions = {}): Promise<HostRunResult> {
  const { compression = "gzip", then = [] } = opts;
  const label = plan.host.label;
  const host = (line: string) => events({ type: "host", host: label, line });
  const timed = async (f: () => Promise<void>) => {
    const t = performance.now();
    await f();
    return (performance.now() - t) / 1000;
  };
  let bytesSent = 0;
  const setup = await timed(() => runBatch(remote, plan.setup, events));
  const upload = await timed(async () => {
    // What went while the lock was taken went over the wire, whether the plan uses it or not.
    for (const sent of opts.early?.values() ?? []) bytesSent += sent.bytesSent;
    for (const step of plan.upload) {
      if (step.kind !== "upload") continue;
      const sent = opts.early?.get(step.sha256);
      // Sent while the lock was taken, and surely not pruned since (the prune spares young blobs).
      if (sent && Date.now() - sent.at < (PRUNE_AFTER_MIN / 2) * 60_000) {
        host(`uploaded ${formatBytes(sent.bytesSent)}${sent.patched ? ` as a patch against ${sent.against.slice(0, 12)}` : ""} while taking the lock`);
        continue;
      }
      host(`uploading ${step.why} (${formatBytes(step.size)} raw)`);
      const started = performance.now();
      const key = `upload ${label} ${step.remote}`;
      const onProgress = (sent: number, total: number) => events({ type: "progress", key, line: uploadLine(label, step.why, sent, total, (performance.now() - started) / 1000) });
      let r: UploadResult;
      try {
        r = await remote.upload(step.local, step.remote, { sha256: step.sha256, compression, onProgress, base: step.base });
      } finally {
        events({ type: "progress", key, line: "", done: true });
      }
      const secs = (performance.now() - started) / 1000;
      bytesSent += r.bytesSent;
      const how = r.patched ? ` as a patch against ${step.base!.sha256.slice(0, 12)}` : "";
      host(`uploaded ${formatBytes(r.bytesSent)}${how} in ${secs.toFixed(1)}s (${formatBytes(r.bytesSent / Math.max(secs, 0.001))}/s)`);
    }
  });
  let thenFailed: RemoteError | undefined;
  const release = await timed(async () => {
    try {
      await runBatch(remote, [...plan.release, ...then], events);
    } catch (e) {
      if (!(e instanceof BatchError && e.step >= plan.release.length)) throw e;
      thenFailed = e;
    }
  });
  return { label, bytesSent, seconds: { setup, upload, release }, ...(thenFailed && { thenFailed }) };
}

/** One host's live upload line: `host uploading hello: 2.1 MB / 8.4 MB (25%), 3.0 MB/s`. */
export function uploadLine(label: string, what: string, sent: number, total: number, seconds: number): string {
  const pct = total > 0 ? Math.floor((sent / total) * 100) : 100;
  const rate = seconds > 0 ? `, ${formatBytes(sent / seconds)}/s` : "";
  // All of it sent: what is left is the host's (sha256 check, install), seconds on a slow disk.
  const rest = sent >= total ? "; the host checks its sha256" : "";
  return `${label} uploading ${what}: ${formatBytes(sent)} / ${formatBytes(total)} (${pct}%)${rate}${rest}`;
}

/**
 * The switch script's `starting APP-web@PORT.service (ID)`: from here until its next line
 * (healthy, or the failure) the host waits for the new slot's health check.
 */
const STARTING_WEB = /^starting \S+-web@(\d+)\.service /;

/**
 * Runs steps as one `bash -s` script; its stdout streams as host progress. While the
 * switch waits for a new web slot's health check, a live line says so with the time spent.
 */
export async function runBatch(remote: Remote, steps: Step[], events: EventSink): Promise<void> {
  if (steps.length === 0) return;
  for (const s of steps) events({ type: "debug", line: `${remote.label} ${describeStep(s)}` });
  let waiting: Ticker | null = null;
  // Which step the script is on (its stderr marks each one): a live line between the host's
  // own lines, so a slow setup on a fresh host is not a silent pause.
  let current: Ticker | null = null;
  const stepMarks = lineSplitter((l) => {
    const i = STEP_MARK_LINE.exec(l)?.[1];
    if (i === undefined || waiting) return;
    current?.stop();
    current = startTicker(events, `step ${remote.label}`, (s) => `${remote.label} ${steps[Number(i)]!.why} (step ${Number(i) + 1}/${steps.length}, ${s.toFixed(1)}s)`);
  });
  const lines = lineSplitter((l) => {
    waiting?.stop();
    waiting = null;
    events({ type: "host", host: remote.label, line: l });
    const port = STARTING_WEB.exec(l)?.[1];
    if (port) {
      current?.stop();
      current = null;
      waiting = startTicker(events, `health ${remote.label}`, (s) => `${remote.label} waiting for health on :${port} (${s.toFixed(1)}s)`);
    }
  });
  let r;
  try {
    r = await remote.exec(["bash", "-s"], { stdin: renderBatchScript(steps), onStdout: lines.push, onStderr: stepMarks.push, check: false });
    lines.flush();
  } finally {
    (waiting as Ticker | null)?.stop();
    (current as Ticker | null)?.stop();
  }
  if (r.code === 0) return;
  const marks = [...r.stderr.matchAll(new RegExp(`^${STEP_MARK}(\\d+)$`, "gm"))];
  const at = Number(marks.at(-1)?.[1] ?? 0);
  const failed = steps[at]!;
  const stderr = r.stderr.split("\n").filter((l) => !l.startsWith(STEP_MARK)).join("\n");
  const what = failed.kind === "run" ? `${failed.why} failed (exit ${r.code})` : `${describeStep(failed)} failed (exit ${r.code})`;
  throw new BatchError(remote.label, what, { argv: failed.kind === "run" ? failed.argv : undefined, code: r.code, stderr }, at);
}

const STEP_MARK_LINE = new RegExp(`^${STEP_MARK}(\\d+)$`);
