import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { helloConfig } from "../../test/fixtures/config.ts";
import type { Builds } from "../build/builds.ts";
import type { Remote, UploadOptions } from "../remote/remote.ts";
import { sendEarly } from "./early-upload.ts";
import type { SentRecord } from "./host-records.ts";

const OLD = "a".repeat(64);
const NEW = "b".repeat(64);
const cfg = () => ({ ...helloConfig, root: mkdtempSync(path.join(tmpdir(), "qdeploy-early-")) });
const record: SentRecord = { arch: "x86_64", compression: "zstd", binaries: { hello: OLD } };

function builds(binaries: Record<string, string>): Promise<Builds> {
  const bins = Object.fromEntries(Object.entries(binaries).map(([name, sha256]) => [name, { path: `/build/${sha256}`, sha256, size: 10 }]));
  return Promise.resolve({ artifacts: { x86_64: { binaries: bins } }, git: null, seconds: 0 });
}

function uploads(fail = false): Remote & { sent: { remote: string; opts: UploadOptions }[] } {
  const sent: { remote: string; opts: UploadOptions }[] = [];
  return {
    label: "root@10.0.0.1",
    sent,
    exec: async () => ({ code: 0, stdout: "", stderr: "" }),
    write: async () => {},
    upload: async (_local, remote, opts) => {
      sent.push({ remote, opts });
      if (fail) throw new Error("connection lost");
      return { bytesSent: 606, patched: true };
    },
    close: async () => {},
  };
}

describe("the early upload", () => {
  test("a changed binary goes to its blob as a patch against the one sent last, with its sha256 checked there", async () => {
    const remote = uploads();
    const lines: string[] = [];
    const sent = await sendEarly(cfg(), remote, record, builds({ hello: NEW }), (e) => e.type === "host" && lines.push(e.line));
    expect(lines).toEqual(["uploading the x86_64 binary (10 B raw) while taking the lock"]);
    expect(remote.sent.map((s) => s.remote)).toEqual([`/srv/qdeploy/hello/blobs/${NEW}`]);
    expect(remote.sent[0]!.opts).toMatchObject({ sha256: NEW, compression: "zstd", base: { local: `/build/${OLD}`, remote: `/srv/qdeploy/hello/blobs/${OLD}` } });
    expect([...sent.keys()]).toEqual([NEW]);
    expect(sent.get(NEW)).toMatchObject({ bytesSent: 606, patched: true });
  });

  test("nothing goes for an unchanged binary, a failed build or a binary the record does not know; a failed upload is left to the plan", async () => {
    const remote = uploads();
    expect((await sendEarly(cfg(), remote, record, builds({ hello: OLD }), () => {})).size).toBe(0);
    expect((await sendEarly(cfg(), remote, record, Promise.reject(new Error("go build failed")), () => {})).size).toBe(0);
    expect((await sendEarly(cfg(), remote, record, builds({ other: NEW }), () => {})).size).toBe(0);
    expect(remote.sent).toEqual([]);
    const failing = uploads(true);
    expect((await sendEarly(cfg(), failing, record, builds({ hello: NEW }), () => {})).size).toBe(0);
    expect(failing.sent).toHaveLength(1);
  });
});
