import { expect, test } from "bun:test";
import { factsScript } from "../server-scripts.ts";
import { parseFacts } from "./facts.ts";

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
