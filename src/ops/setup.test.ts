import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { helloConfig } from "../../test/fixtures/config.ts";
import { recordingRemote } from "../../test/fixtures/recording-remote.ts";
import type { HostAddress, ResolvedConfig } from "../config/types.ts";
import { OperationError } from "../errors.ts";
import type { Remote } from "../remote/remote.ts";
import type { Connect, OpContext } from "./context.ts";
import type { OpEvent } from "../events.ts";
import { Redactor } from "../secrets/redact.ts";
import { setup } from "./setup.ts";

const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-setup-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hosts: HostAddress[] = [
  { user: "deploy", host: "10.0.0.1", port: 22, label: "deploy@10.0.0.1" },
  { user: "root", host: "10.0.0.2", port: 22, label: "root@10.0.0.2" },
  { user: "ops", host: "10.0.0.3", port: 22, label: "ops@10.0.0.3" },
];
const cfg: ResolvedConfig = { ...helloConfig, hosts, root: dir };

/** A model host that also answers the bootstrap script (`bash -c SCRIPT bootstrap USER`, the keys on stdin). */
function modelHost(host: HostAddress, log: string[], as: string): Remote {
  const inner = recordingRemote({ label: host.label, live: null, releases: [] }, log);
  return {
    ...inner,
    async exec(argv, opts = {}) {
      if (argv[0] === "bash" && argv[1] === "-c" && argv[3] === "bootstrap") {
        log.push(`${host.label} as ${as}: bootstrap ${argv[4]} with ${String(opts.stdin).split(" ")[0]}`);
        return { code: 0, stdout: `created user ${argv[4]}\n`, stderr: "" };
      }
      return inner.exec(argv, opts);
    },
  };
}

function op(log: string[]): OpContext & { seen: OpEvent[] } {
  const seen: OpEvent[] = [];
  const connect = (as: string): Connect => async (host) => modelHost(host, log, as);
  return { cfg, connect: connect("self"), connectAs: connect, events: (e) => seen.push(e), redactor: new Redactor(), who: "me", lockWaitSec: 1, seen };
}

describe("setup", () => {
  test("runs setup's batch on every host; the hosts ready, in deploy.toml's order", async () => {
    const log: string[] = [];
    const r = await setup(op(log));
    expect(r).toEqual({ bootstrapped: null, ready: hosts.map((h) => h.label) });
    expect(log.filter((l) => l.includes(" setup (")).map((l) => l.split(" ")[0]).sort()).toEqual(hosts.map((h) => h.label).sort());
    expect(log.filter((l) => l.endsWith("closed"))).toHaveLength(hosts.length);
  });

  test("--bootstrap: logged in as its user, each host makes its own login user, root's host nothing; then setup as usual", async () => {
    const key = path.join(dir, "id");
    expect(spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]).status).toBe(0);
    const log: string[] = [];
    const o = op(log);
    const r = await setup(o, { bootstrap: { user: "root", keyFile: `${key}.pub` } });
    expect(log.filter((l) => l.includes("bootstrap")).sort()).toEqual(["deploy@10.0.0.1 as root: bootstrap deploy with ssh-ed25519", "ops@10.0.0.3 as root: bootstrap ops with ssh-ed25519"]);
    expect(r.bootstrapped).toEqual([
      { host: "deploy@10.0.0.1", user: "deploy", lines: ["created user deploy"] },
      { host: "root@10.0.0.2", user: "root", lines: ["logs in as root: no user to bootstrap"] },
      { host: "ops@10.0.0.3", user: "ops", lines: ["created user ops"] },
    ]);
    expect(o.seen).toContainEqual({ type: "host", host: "root@10.0.0.2", line: "logs in as root: no user to bootstrap" });
    // Bootstrap's connections are closed before setup connects as the hosts' own users.
    const firstSetup = log.findIndex((l) => l.includes(" setup ("));
    expect(log.slice(0, firstSetup).filter((l) => l.endsWith("closed"))).toHaveLength(hosts.length);
    expect(r.ready).toEqual(hosts.map((h) => h.label));
  });

  test("--bootstrap where the context cannot log in as another user is refused before any host is touched", async () => {
    const log: string[] = [];
    const { connectAs: _, ...noAs } = op(log);
    await expect(setup(noAs, { bootstrap: { user: "root" } })).rejects.toThrow(OperationError);
    expect(log).toEqual([]);
  });
});
