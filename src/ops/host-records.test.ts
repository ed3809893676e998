import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { helloConfig } from "../../test/fixtures/config.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { lastKnownArchs, lastSent, recordSent, rememberArchs, type SentRecord } from "./host-records.ts";

const OLD = "a".repeat(64);
const NEW = "b".repeat(64);
const HOST = helloConfig.hosts[0]!.label;
const cfg = () => ({ ...helloConfig, root: mkdtempSync(path.join(tmpdir(), "qdeploy-records-")) });
const record: SentRecord = { arch: "x86_64", compression: "zstd", binaries: { hello: OLD } };
/** The record of one host, or null. */
const sentTo = async (c: ResolvedConfig, label: string) => (await lastSent(c, [label])).get(label) ?? null;

describe("the hosts' records", () => {
  test("what a push left on a host is recorded per app and host, and read back", async () => {
    const c = cfg();
    expect(await sentTo(c, HOST)).toBeNull();
    await recordSent(c, [{ label: HOST, record }]);
    await recordSent({ ...c, app: "other" }, [{ label: HOST, record: { ...record, binaries: { other: NEW } } }]);
    expect(await sentTo(c, HOST)).toEqual(record);
    expect(await sentTo(c, "root@10.9.9.9")).toBeNull();
    expect((await sentTo({ ...c, app: "other" }, HOST))?.binaries).toEqual({ other: NEW });
    // A record whose blob names are not sha256s (they go into the host's paths) is not used.
    await recordSent(c, [{ label: "root@10.0.0.3", record: { ...record, binaries: { hello: "../../etc/passwd" } } }]);
    expect(await sentTo(c, "root@10.0.0.3")).toBeNull();
    // A fleet's records in one read: the hosts that have one.
    expect([...(await lastSent(c, [HOST, "root@10.9.9.9", "root@10.0.0.3"])).keys()]).toEqual([HOST]);
  });

  test("one record per host holds its arch and what it was sent; another arch forgets what was sent", async () => {
    const c = cfg();
    expect(await lastKnownArchs(c)).toBeNull();
    await recordSent(c, [{ label: HOST, record }]);
    await rememberArchs(c, [{ host: { label: HOST }, arch: "x86_64" }]);
    expect(await lastKnownArchs(c)).toEqual(["x86_64"]);
    expect(await sentTo(c, HOST)).toEqual(record);
    expect(JSON.parse(readFileSync(path.join(c.root, ".qdeploy", "hosts.json"), "utf8"))).toEqual({ [HOST]: { arch: "x86_64", sent: { hello: { compression: "zstd", binaries: { hello: OLD } } } } });
    await rememberArchs(c, [{ host: { label: HOST }, arch: "aarch64" }]);
    expect(await lastKnownArchs(c)).toEqual(["aarch64"]);
    expect(await sentTo(c, HOST)).toBeNull();
  });

  test("an older qdeploy's host-archs.json gives the archs until hosts.json exists; a broken file gives nothing", async () => {
    const c = cfg();
    mkdirSync(path.join(c.root, ".qdeploy"));
    writeFileSync(path.join(c.root, ".qdeploy", "host-archs.json"), JSON.stringify({ [HOST]: "aarch64" }));
    expect(await lastKnownArchs(c)).toEqual(["aarch64"]);
    await recordSent(c, [{ label: HOST, record }]);
    expect(await lastKnownArchs(c)).toEqual(["x86_64"]);
    writeFileSync(path.join(c.root, ".qdeploy", "hosts.json"), "{not json");
    writeFileSync(path.join(c.root, ".qdeploy", "host-archs.json"), "[1,");
    expect(await lastKnownArchs(c)).toBeNull();
    expect(await sentTo(c, HOST)).toBeNull();
  });
});
