/**
 * rollout.concurrency: a push to many hosts does at most N handshakes, lock-and-facts round
 * trips and release writes (uploads) at once, keeps every connection and lock for the whole
 * push, switches a wave's hosts all at once, and still switches every host.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { helloConfig } from "../../test/fixtures/config.ts";
import type { FakeHost } from "../../test/fixtures/recording-remote.ts";
import { SimNetwork, type SimNetworkOptions } from "../../test/fixtures/sim-network.ts";
import type { HostAddress, ResolvedConfig } from "../config/types.ts";
import { RemoteError } from "../errors.ts";
import { DEFAULT_CONCURRENCY } from "../plan/waves.ts";
import { Redactor } from "../secrets/redact.ts";
import type { OpContext } from "./context.ts";
import { push, rollback } from "./deploy.ts";
import { openConnections } from "./sessions.ts";

const OLD = "20261201000000";
const SHA = "a".repeat(64);

/** Quick enough for a unit test, slow enough that work overlaps: a limit that fails lets more run at once. */
const NET: SimNetworkOptions = { rttMs: 2, handshakeMs: 5, uplinkBytesPerSec: 200e6, uploadBytes: 128 * 1024, switchMs: 5 };

function addresses(n: number): HostAddress[] {
  return Array.from({ length: n }, (_, i) => ({ user: "root", host: `10.0.${i >> 8}.${i & 255}`, label: `root@10.0.${i >> 8}.${i & 255}` }));
}

/** n model hosts live on OLD behind a simulated network, and an OpContext that reaches them through it. */
function simFleet(n: number, rollout: ResolvedConfig["rollout"], tweak: (h: FakeHost, i: number) => void = () => {}) {
  const hosts = addresses(n);
  const models = hosts.map((a, i) => {
    const h: FakeHost = { label: a.label, live: OLD, releases: [OLD] };
    tweak(h, i);
    return h;
  });
  const net = new SimNetwork(NET, models);
  const cfg: ResolvedConfig = { ...helloConfig, hosts, rollout, root: mkdtempSync(path.join(tmpdir(), "qdeploy-conc-")), secrets: { store: "env", names: [] } };
  const op: OpContext = {
    cfg,
    connect: net.connect,
    events: () => {},
    redactor: new Redactor(),
    who: "me",
    lockWaitSec: 1,
    build: async (_cfg, archs) => ({ artifacts: Object.fromEntries(archs.map((a) => [a, { binaries: { hello: { path: "/b", sha256: SHA, size: NET.uploadBytes } } }])), git: null, seconds: 0 }),
  };
  return { net, models, op, cfg };
}

const count = (log: string[], what: string) => log.filter((l) => l.endsWith(what)).length;

describe("rollout.concurrency", () => {
  test("40 hosts, concurrency 4: at most 4 handshakes, lock-and-facts and uploads at once; every host switched", async () => {
    const f = simFleet(40, { batch: { percent: 25 }, pauseSec: 0, concurrency: 4 });
    const r = await push(f.op);
    expect(f.net.handshakes.peak).toBe(4);
    expect(f.net.locking.peak).toBe(4);
    expect(f.net.uploads.peak).toBe(4);
    expect(r.hosts.map((h) => h.outcome)).toEqual(Array(40).fill("live"));
    expect(f.models.every((h) => h.live === r.release)).toBe(true);
    expect(count(f.net.log, ` activate ${r.release}`)).toBe(40);
    // Every connection, and its lock, lasts the whole push; all are closed and let go at the end.
    expect(f.net.connections.peak).toBe(40);
    expect([f.net.connections.now, f.net.channels.now, count(f.net.log, " unlocked")]).toEqual([0, 0, 40]);
  });

  test("a wave's hosts switch all at once, not concurrency at a time (a wave costs the same with 10 hosts as with 1)", async () => {
    const f = simFleet(40, { batch: { percent: 25 }, pauseSec: 0, concurrency: 4 });
    const r = await push(f.op);
    expect(r.waves.map((w) => w.length)).toEqual([10, 10, 10, 10]);
    expect(f.net.switches.peak).toBe(10);
  });

  test("unset: DEFAULT_CONCURRENCY (32) handshakes and uploads at once", async () => {
    const f = simFleet(40, { batch: null, pauseSec: 0 });
    const r = await push(f.op);
    expect(DEFAULT_CONCURRENCY).toBe(32);
    expect([f.net.handshakes.peak, f.net.uploads.peak]).toEqual([32, 32]);
    expect(r.hosts.every((h) => h.outcome === "live")).toBe(true);
  });

  test("rollback goes through the same cap", async () => {
    const f = simFleet(12, { batch: null, pauseSec: 0, concurrency: 3 });
    const r = await push(f.op);
    const peaks = new SimNetwork(NET, f.models); // fresh counters, same model hosts
    const back = await rollback({ ...f.op, connect: peaks.connect }, null);
    expect(back.release).toBe(OLD);
    expect(r.release).not.toBe(OLD);
    expect([peaks.handshakes.peak, peaks.locking.peak]).toEqual([3, 3]);
    expect(f.models.every((h) => h.live === OLD)).toBe(true);
  });

  test("a host failing its release write: no further host starts writing, nothing switches, every lock is let go", async () => {
    const f = simFleet(20, { batch: null, pauseSec: 0, concurrency: 2 }, (h, i) => i === 1 && (h.failBatchAt = "release.json"));
    const err = await push(f.op).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(f.net.log.filter((l) => / upload /.test(l)).length).toBeLessThan(10);
    expect(f.net.log.some((l) => l.includes(" activate "))).toBe(false);
    expect([count(f.net.log, " locked"), count(f.net.log, " unlocked"), f.net.connections.now]).toEqual([20, 20, 0]);
  });

  test("openConnections: an unreachable host stops further handshakes; the connections made are closed", async () => {
    const f = simFleet(20, { batch: null, pauseSec: 0 });
    let tried = 0;
    const connect = async (h: HostAddress) => {
      tried++;
      if (h.label === f.cfg.hosts[1]!.label) throw new RemoteError(h.label, "connection refused");
      return f.net.connect(h);
    };
    const err = await openConnections(f.cfg.hosts, connect, 2).catch((e: unknown) => e);
    expect((err as Error).message).toContain("connection refused");
    expect(tried).toBeLessThan(20);
    expect(f.net.connections.now).toBe(0);
  });
});
