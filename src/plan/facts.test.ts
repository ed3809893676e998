import { expect, test } from "bun:test";
import { factsScript } from "../server-scripts.ts";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { factWarnings, parseFacts } from "./facts.ts";
import { rollbackTarget } from "./push.ts";

const host = { user: "root", host: "h", port: 22, label: "root@h" };

test("facts.sh runs on a host qdeploy never touched and says what it has", () => {
  const r = Bun.spawnSync(["bash", "-s", "--", "qdeploy-never-deployed"], { stdin: new Blob([factsScript]) });
  expect(r.exitCode).toBe(0);
  const f = parseFacts(host, r.stdout.toString());
  expect(f.arch).toBe(Bun.spawnSync(["uname", "-m"]).stdout.toString().trim());
  expect(f.caddy).toBe(Bun.which("caddy") !== null);
  expect(f.zstd).toBe(Bun.which("zstd") !== null);
  expect(f).toMatchObject({ switchSha: "", live: null, liveSlot: null, lock: null, webPorts: null, history: [], blobs: [], releases: [], partial: [] });
});

test("the web ports and the history of live releases are facts", () => {
  const f = parseFacts(host, "arch=x86_64\nports=8003 8004\nhistory=01 02 01 \n");
  expect(f.webPorts).toEqual([8003, 8004]);
  expect(f.history).toEqual(["01", "02", "01"]);
  const none = parseFacts(host, "arch=x86_64\nports=\nhistory=\n");
  expect(none).toMatchObject({ webPorts: null, history: [] });
});

test("the history drops a release a refused wave switched back; a restart or a repeat counts once", () => {
  const history = (words: string) => parseFacts(host, `arch=x86_64\nhistory=${words}\n`).history;
  expect(history("01 02 03 -03 02")).toEqual(["01", "02"]);
  // A rollback to 03 that a later host refused: the canary went back to 04; 03 stays 04's previous.
  expect(history("01 02 03 04 03 -03 04")).toEqual(["01", "02", "03", "04"]);
  // Only the newest is dropped: one that went live and stayed earlier keeps its place.
  expect(history("01 02 01 -02 01")).toEqual(["01", "02", "01"]);
  expect(history("-01 01")).toEqual(["01"]);
});

test("facts.sh reads the history from audit.log as switch.sh writes it, a switch back after a refused wave included", () => {
  const app = `qdeploy-facts-history-${process.pid}`;
  const root = `/srv/qdeploy/${app}`;
  const json = (id: string) => `{"id":"${id}","sha256":"${"a".repeat(64)}","by":"x","created":"c","git":null,"configDigest":"d"}\n`;
  const [R1, R2, R3] = ["20260101000001", "20260101000002", "20260101000003"];
  try {
    for (const id of [R1, R2, R3]) {
      mkdirSync(`${root}/releases/${id}`, { recursive: true });
      writeFileSync(`${root}/releases/${id}/release.json`, json(id));
      writeFileSync(`${root}/releases/${id}/activated`, "");
    }
    symlinkSync(`releases/${R2}`, `${root}/current`);
    // Lines exactly as server/switch.sh's audit() writes them: R3 went live on this host (the
    // canary), then another host refused it and this one was switched back to R2.
    writeFileSync(
      `${root}/audit.log`,
      [
        `2026-01-01T00:00:01Z activated ${R1} by alice@laptop`,
        `2026-01-01T00:00:02Z activated ${R2} by alice@laptop`,
        `2026-01-01T00:00:03Z activated ${R3} by alice@laptop`,
        `2026-01-01T00:00:04Z reverted ${R3} to ${R2} by alice@laptop`,
        `2026-01-01T00:00:05Z activated ${R2} by the timer (restart)`,
        "",
      ].join("\n"),
    );
    const r = Bun.spawnSync(["bash", "-s", "--", app], { stdin: new Blob([factsScript]) });
    expect(r.exitCode).toBe(0);
    const f = parseFacts(host, r.stdout.toString());
    expect(f.live).toBe(R2);
    expect(f.history).toEqual([R1, R2]);
    expect(rollbackTarget(f.releases, f.live, f.history)?.id).toBe(R1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
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

/** facts.sh's user and sudo lines as the login user `as` would see them. */
function factsAs(argvPrefix: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync([...argvPrefix, "bash", "-s", "--", "qdeploy-never-deployed"], {
    stdin: new Blob([factsScript]),
    env: { PATH: process.env.PATH!, ...env },
  });
  expect(r.stderr.toString()).toBe("");
  const f = parseFacts(host, r.stdout.toString());
  return { user: f.user, sudo: f.sudo };
}

test("facts.sh: a root login is root and needs no sudo", () => {
  expect(factsAs([])).toStrictEqual({ user: "root", sudo: undefined });
});

test("facts.sh: through sudo, the login user is SUDO_USER and root's commands are open to it", () => {
  // What `sudo -n -- bash -s` gives the script: uid 0 and SUDO_USER.
  expect(factsAs([], { SUDO_USER: "deploy" })).toEqual({ user: "deploy", sudo: true });
});

test("facts.sh: a login that is not root, without passwordless sudo, says so", () => {
  // nobody is in no sudoers file (and this machine may have no sudo at all): sudo -n true fails.
  expect(factsAs(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"])).toEqual({ user: "nobody", sudo: false });
});
