import { describe, expect, test } from "bun:test";
import type { OpEvent } from "../events.ts";
import { STEP_MARK } from "../plan/script.ts";
import type { HostPlan } from "../plan/steps.ts";
import type { ExecOptions, Remote, UploadOptions } from "./remote.ts";
import { runBatch, runHostPlan, runReleasePhase, uploadLine } from "./run-plan.ts";

const LABEL = "root@10.0.0.1";

/** A Remote whose batch prints these stdout lines, `gapMs` apart; its upload reports these steps. */
function scriptedRemote(lines: string[], gapMs: number, code = 0, uploadSteps: number[] = []): Remote {
  return {
    label: LABEL,
    async exec(_argv: string[], opts: ExecOptions = {}) {
      for (const l of lines) {
        opts.onStdout?.(`${l}\n`);
        await Bun.sleep(gapMs);
      }
      return { code, stdout: "", stderr: code ? "release X failed its health check\n" : "" };
    },
    async write() {},
    async upload(_l: string, _r: string, opts: UploadOptions) {
      const total = uploadSteps.at(-1) ?? 0;
      for (const s of uploadSteps) {
        await Bun.sleep(gapMs);
        opts.onProgress?.(s, total);
      }
      return { bytesSent: Math.round(total / 2) };
    },
    async close() {},
  };
}

function events() {
  const seen: OpEvent[] = [];
  return { seen, sink: (e: OpEvent) => void seen.push(e) };
}

const activate: HostPlan["activate"] = [{ kind: "run", argv: ["/srv/qdeploy/hello/switch", "activate", "X", "me"], why: "switch" }];

describe("runBatch: which step runs", () => {
  test("each step the script marks on stderr gets a live line with its why, number and seconds; freed at the end", async () => {
    const { seen, sink } = events();
    const steps: HostPlan["setup"] = [
      { kind: "run", argv: ["mkdir", "-p", "/srv/x"], why: "the app's folders" },
      { kind: "write", path: "/srv/x/unit", content: "u", mode: 0o644, why: "the web unit" },
    ];
    const remote: Remote = {
      ...scriptedRemote([], 0),
      async exec(_argv: string[], opts: ExecOptions = {}) {
        for (const i of [0, 1]) {
          opts.onStderr?.(`${STEP_MARK}${i}\n`);
          await Bun.sleep(150);
        }
        return { code: 0, stdout: "", stderr: "" };
      },
    };
    await runBatch(remote, steps, sink);
    const live = seen.filter((e) => e.type === "progress").map((e) => (e.type === "progress" ? `${e.key}|${e.done ? "done" : e.line.slice(2)}` : ""));
    expect(live[0]).toBe(`step ${LABEL}|${LABEL} the app's folders (step 1/2, 0.0s)`);
    expect(live).toContain(`step ${LABEL}|${LABEL} the web unit (step 2/2, 0.0s)`);
    expect(live.indexOf(`step ${LABEL}|${LABEL} the web unit (step 2/2, 0.0s)`)).toBeGreaterThan(live.indexOf(`step ${LABEL}|done`));
    expect(live.at(-1)).toBe(`step ${LABEL}|done`);
  });
});

describe("runBatch: the wait for health", () => {
  test("after `starting APP-web@PORT.service`, a live line with the seconds, freed at the next line", async () => {
    const { seen, sink } = events();
    await runBatch(scriptedRemote(["starting hello-web@8001.service (X)", "healthy: hello-web@8001.service answers /healthz", "live: X"], 300), activate, sink);
    const shown = seen.filter((e) => e.type !== "debug").map((e) => (e.type === "host" ? `host: ${e.line}` : e.type === "progress" ? `${e.done ? "done" : "live"}: ${e.line.slice(2)}` : e.type));
    expect(shown[0]).toBe("host: starting hello-web@8001.service (X)");
    expect(shown[1]).toBe(`live: ${LABEL} waiting for health on :8001 (0.0s)`);
    const i = shown.indexOf("host: healthy: hello-web@8001.service answers /healthz");
    expect(shown[i - 1]).toBe("done: ");
    expect(shown.slice(2, i - 1).length).toBeGreaterThanOrEqual(1); // it ticked while waiting
    expect(shown.slice(2, i - 1).every((l) => /^live: root@10\.0\.0\.1 waiting for health on :8001 \(0\.\d+s\)$/.test(l))).toBe(true);
    expect(shown.slice(i)).toEqual(["host: healthy: hello-web@8001.service answers /healthz", "host: live: X"]);
  });

  test("a failed health check: the live line is freed before the error", async () => {
    const { seen, sink } = events();
    const err = await runBatch(scriptedRemote(["starting hello-web@8002.service (X)"], 50, 1), activate, sink).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    const progress = seen.filter((e) => e.type === "progress");
    expect(progress.at(-1)).toEqual({ type: "progress", key: `health ${LABEL}`, line: "", done: true });
  });

  test("no `starting` line: no progress at all", async () => {
    const { seen, sink } = events();
    await runBatch(scriptedRemote(["caddy loaded the site of X"], 0), activate, sink);
    expect(seen.filter((e) => e.type === "progress")).toEqual([]);
  });
});

describe("runHostPlan: blobs sent while the lock was taken", () => {
  const step = (sha256: string) => ({ kind: "upload", local: "/b", remote: `/srv/qdeploy/hello/blobs/${sha256}`, sha256, size: 8_000_000, why: "the x86_64 binary" }) as const;
  const plan = (...upload: ReturnType<typeof step>[]) => ({ host: { user: "root", host: "10.0.0.1", label: LABEL }, arch: "x86_64", setup: [], release: [], stage: [], activate: [], notes: [], upload }) satisfies HostPlan;
  function counting(): Remote & { uploaded: string[] } {
    const r = scriptedRemote([], 0, 0, [8_000_000]);
    const uploaded: string[] = [];
    return { ...r, uploaded, upload: (l, remote, o) => (uploaded.push(remote), r.upload(l, remote, o)) };
  }

  test("a step whose blob went early is not sent again; what went early counts, used or not", async () => {
    const { seen, sink } = events();
    const remote = counting();
    const early = new Map([
      ["aaa", { bytesSent: 606, patched: true, against: "f".repeat(64), at: Date.now() }],
      ["ccc", { bytesSent: 50, patched: true, against: "f".repeat(64), at: Date.now() }],
    ]);
    const r = await runHostPlan(remote, plan(step("aaa"), step("bbb")), sink, { early });
    expect(remote.uploaded).toEqual(["/srv/qdeploy/hello/blobs/bbb"]);
    expect(r.bytesSent).toBe(606 + 4_000_000 + 50);
    expect(seen.some((e) => e.type === "host" && e.line === "uploaded 606 B as a patch against ffffffffffff while taking the lock")).toBe(true);
  });

  test("one sent early long ago (the prune may have taken it since) is sent again", async () => {
    const remote = counting();
    const early = new Map([["aaa", { bytesSent: 606, patched: true, against: "f".repeat(64), at: Date.now() - 6 * 60_000 }]]);
    await runHostPlan(remote, plan(step("aaa")), events().sink, { early });
    expect(remote.uploaded).toEqual(["/srv/qdeploy/hello/blobs/aaa"]);
  });
});

describe("runHostPlan: each upload's progress", () => {
  test("bytes, percent and rate as it goes, then today's `uploaded` line", async () => {
    const { seen, sink } = events();
    const plan = { host: { user: "root", host: "10.0.0.1", label: LABEL }, arch: "x86_64", setup: [], release: [], stage: [], activate: [], notes: [], upload: [{ kind: "upload", local: "/b", remote: "/srv/qdeploy/hello/blobs/abc", sha256: "abc", size: 8_000_000, why: "hello (linux/amd64)" }] } satisfies HostPlan;
    await runHostPlan(scriptedRemote([], 20, 0, [2_000_000, 4_000_000, 8_000_000]), plan, sink);
    const key = `upload ${LABEL} /srv/qdeploy/hello/blobs/abc`;
    const progress = seen.filter((e) => e.type === "progress");
    expect(progress.map((e) => (e as { key: string }).key)).toEqual([key, key, key, key]);
    expect(progress.slice(0, 3).map((e) => (e as { line: string }).line.replace(/, [\d.]+ [kMG]?B\/s(?=$|;)/, ", RATE"))).toEqual([
      `${LABEL} uploading hello (linux/amd64): 2.0 MB / 8.0 MB (25%), RATE`,
      `${LABEL} uploading hello (linux/amd64): 4.0 MB / 8.0 MB (50%), RATE`,
      `${LABEL} uploading hello (linux/amd64): 8.0 MB / 8.0 MB (100%), RATE; the host checks its sha256`,
    ]);
    expect(progress[3]).toEqual({ type: "progress", key, line: "", done: true });
    const hostLines = seen.filter((e) => e.type === "host").map((e) => (e as { line: string }).line);
    expect(hostLines[0]).toBe("uploading hello (linux/amd64) (8.0 MB raw)");
    expect(hostLines[1]).toMatch(/^uploaded 4\.0 MB in 0\.\ds \([\d.]+ [kM]B\/s\)$/);
  });

  test("uploadLine", () => {
    expect(uploadLine("h", "hello", 1_234_567, 8_400_000, 0.5)).toBe("h uploading hello: 1.2 MB / 8.4 MB (14%), 2.5 MB/s");
    expect(uploadLine("h", "hello", 0, 8_400_000, 0)).toBe("h uploading hello: 0 B / 8.4 MB (0%)");
    expect(uploadLine("h", "empty", 0, 0, 0.1)).toBe("h uploading empty: 0 B / 0 B (100%), 0 B/s; the host checks its sha256");
    expect(uploadLine("h", "hello", 8_400_000, 8_400_000, 2)).toBe("h uploading hello: 8.4 MB / 8.4 MB (100%), 4.2 MB/s; the host checks its sha256");
  });
});

describe("runReleasePhase: a failing phase says what it leaves serving", () => {
  const phase = { host: LABEL, command: "./bin/migrate up", argv: ["systemd-run", "--wait"], timeoutSec: 60 };
  const failing = (liveBefore: boolean) =>
    runReleasePhase(scriptedRemote(["Finished with result: exit-code"], 0, 3), { ...phase, liveBefore }, events().sink).then(
      () => "",
      (e: Error) => e.message,
    );
  test("the live release, when one was live", async () => {
    expect(await failing(true)).toContain('release phase "./bin/migrate up" exited with status 3; nothing was switched, the live release keeps serving');
  });
  test("no live release on a first push", async () => {
    expect(await failing(false)).toContain("exited with status 3; nothing was switched, no release was live before it");
  });
});
