import { expect, test } from "bun:test";
import { factsScript } from "../server-scripts.ts";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { factWarnings, parseFacts } from "./facts.ts";

const host = { user: "root", host: "h", port: 22, label: "root@h" };

test("facts.sh runs on a host qdeploy never touched and says what it has", () => {
  const r = Bun.spawnSync(["bash", "-s", "--", "qdeploy-never-deployed"], { stdin: new Blob([factsScript]) });
  expect(r.exitCode).toBe(0);
  const f = parseFacts(host, r.stdout.toString());
  expect(f.arch).toBe(Bun.spawnSync(["uname", "-m"]).stdout.toString().trim());
  expect(f.caddy).toBe(Bun.which("caddy") !== null);
  expect(f.zstd).toBe(Bun.which("zstd") !== null);
  expect(f).toMatchObject({ switchSha: "", live: null, liveSlot: null, lock: null, blobs: [], releases: [], partial: [] });
});

test("a truncated or empty release.json is skipped and reported, not an error", () => {
  // facts.sh reads /srv/qdeploy/APP: a throwaway app name there, removed afterwards.
  const app = `qdeploy-facts-test-${process.pid}`;
  const root = `/srv/qdeploy/${app}`;
  const good = `{"id":"20260101000001","sha256":"${"a".repeat(64)}","by":"x","created":"c","git":null,"configDigest":"d"}\n`;
  try {
    for (const [id, json] of [["20260101000001", good], ["20260101000002", good.slice(0, 40)], ["20260101000003", ""]]) {
      mkdirSync(`${root}/releases/${id}`, { recursive: true });
      writeFileSync(`${root}/releases/${id}/release.json`, json!);
    }
    const r = Bun.spawnSync(["bash", "-s", "--", app], { stdin: new Blob([factsScript]) });
    expect(r.exitCode).toBe(0);
    const f = parseFacts(host, r.stdout.toString());
    expect(f.releases.map((x) => x.id)).toEqual(["20260101000001"]);
    expect(f.corrupt).toEqual(["20260101000002", "20260101000003"]);
    expect(factWarnings(f, app)).toEqual([
      "root@h: release 20260101000002 has an unreadable release.json (truncated?): skipped; it cannot be rolled back to. Remove /srv/qdeploy/" +
        `${app}/releases/20260101000002 if it is not live`,
      "root@h: release 20260101000003 has an unreadable release.json (truncated?): skipped; it cannot be rolled back to. Remove /srv/qdeploy/" +
        `${app}/releases/20260101000003 if it is not live`,
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
