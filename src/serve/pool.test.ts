import { describe, expect, test } from "bun:test";
import type { Remote } from "../remote/remote.ts";
import { ConnectionPool } from "./pool.ts";

/** A Remote that counts its closes and can be made to look lost. */
function fakeRemote(label: string) {
  const r = { opened: 0, closed: 0, open: true };
  const remote: Remote = {
    label,
    exec: async () => ({ code: 0, stdout: "ok", stderr: "" }),
    write: async () => {},
    upload: async () => ({ bytesSent: 0 }),
    isOpen: () => r.open,
    close: async () => {
      r.closed++;
      r.open = false;
    },
  };
  return { r, remote };
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

describe("ConnectionPool", () => {
  test("one connection per key, shared by leases at once and one after another; closed once idle", async () => {
    const pool = new ConnectionPool(30);
    const f = fakeRemote("h");
    let opens = 0;
    const open = async () => (opens++, f.remote);
    const [a, b] = await Promise.all([pool.lease("h", open), pool.lease("h", open)]);
    expect((await a!.exec(["true"])).stdout).toBe("ok");
    await a!.close();
    await a!.close(); // giving a lease back twice counts once
    const c = await pool.lease("h", open);
    await b!.close();
    await c.close();
    expect([opens, f.r.closed]).toEqual([1, 0]);
    await sleep(60);
    expect([f.r.closed, pool.size]).toEqual([1, 0]);
  });

  test("a lost connection is dropped and opened again; a failed open is not kept", async () => {
    const pool = new ConnectionPool(1000);
    const first = fakeRemote("h");
    const second = fakeRemote("h");
    const remotes = [first.remote, second.remote];
    const l1 = await pool.lease("h", async () => remotes.shift()!);
    await l1.close();
    first.r.open = false; // the host went away
    const l2 = await pool.lease("h", async () => remotes.shift()!);
    expect(l2.isOpen!()).toBe(true);
    await l2.close();
    await expect(pool.lease("down", async () => Promise.reject(new Error("refused")))).rejects.toThrow("refused");
    expect(pool.size).toBe(1);
    await pool.closeAll();
    expect([second.r.closed, pool.size]).toEqual([1, 0]);
  });

  test("leases at once after a loss open one new connection, not one each", async () => {
    const pool = new ConnectionPool(1000);
    const old = fakeRemote("h");
    const first = await pool.lease("h", async () => old.remote);
    await first.close();
    old.r.open = false;
    let opens = 0;
    const fresh = fakeRemote("h");
    const open = async () => (opens++, fresh.remote);
    const leases = await Promise.all([pool.lease("h", open), pool.lease("h", open), pool.lease("h", open)]);
    expect([opens, pool.size]).toEqual([1, 1]);
    for (const l of leases) await l.close();
    await pool.closeAll();
    expect(fresh.r.closed).toBe(1);
  });
});
