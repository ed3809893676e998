import { expect, test } from "bun:test";
import { Limiter, settleLimited } from "./limiter.ts";

/** Runs n tasks of uneven length through f; how many ran at once at most, and the order they started. */
async function watch(n: number, run: (tasks: (() => Promise<number>)[]) => Promise<unknown>) {
  let now = 0;
  let peak = 0;
  const started: number[] = [];
  const tasks = Array.from({ length: n }, (_, i) => async () => {
    started.push(i);
    peak = Math.max(peak, ++now);
    await Bun.sleep((i * 7) % 5);
    now--;
    return i;
  });
  await run(tasks);
  return { peak, started, now };
}

test("never more than max at once, and max exactly when there is more work than slots", async () => {
  for (const max of [1, 3, 8]) {
    const limiter = new Limiter(max);
    const r = await watch(40, (tasks) => Promise.all(tasks.map((t) => limiter.run(t))));
    expect([max, r.peak, r.now]).toEqual([max, max, 0]);
  }
});

test("tasks start in the order they were given (first come, first served)", async () => {
  const limiter = new Limiter(2);
  const r = await watch(12, (tasks) => Promise.all(tasks.map((t) => limiter.run(t))));
  expect(r.started).toEqual([...Array(12).keys()]);
});

test("a task that throws gives its slot back; its caller gets the error", async () => {
  const limiter = new Limiter(1);
  const failed = limiter.run(async () => {
    throw new Error("boom");
  });
  const next = limiter.run(async () => "ran");
  expect(await failed.catch((e: Error) => e.message)).toBe("boom");
  expect(await next).toBe("ran");
});

test("settleLimited: every result in the items' order, rejections settled, at most max at once", async () => {
  let now = 0;
  let peak = 0;
  const r = await settleLimited([5, 1, 4, 2, 3, 0], 2, async (ms, i) => {
    peak = Math.max(peak, ++now);
    await Bun.sleep(ms);
    now--;
    if (i === 3) throw new Error("three");
    return ms;
  });
  expect(peak).toBe(2);
  expect(r.map((s) => (s.status === "fulfilled" ? s.value : (s.reason as Error).message))).toEqual([5, 1, 4, "three", 3, 0]);
});

test("max must be a whole number >= 1", () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => new Limiter(bad)).toThrow("max must be an integer >= 1");
});
