import { expect, test } from "bun:test";
import { ChannelLimiter, MAX_CHANNELS } from "./channel-limiter.ts";

/** Whether p has settled after the microtasks queued so far have run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await Bun.sleep(0);
  return done;
}

async function fill(limiter: ChannelLimiter): Promise<void> {
  for (let i = 0; i < MAX_CHANNELS; i++) expect(await limiter.acquire()).toBe(true);
}

test("MAX_CHANNELS at once; the next waits for a release, in order", async () => {
  const limiter = new ChannelLimiter();
  await fill(limiter);
  const first = limiter.acquire();
  const second = limiter.acquire();
  expect(await settled(first)).toBe(false);
  limiter.release();
  expect(await first).toBe(true);
  expect(await settled(second)).toBe(false);
  limiter.release();
  expect(await second).toBe(true);
});

test("aborted before: false at once, with or without a free channel, and none taken", async () => {
  const limiter = new ChannelLimiter();
  const ac = new AbortController();
  ac.abort();
  expect(await limiter.acquire(ac.signal)).toBe(false);
  await fill(limiter); // all MAX_CHANNELS still free
  const full = limiter.acquire(ac.signal);
  expect(await settled(full)).toBe(true); // not queued behind the busy channels
  expect(await full).toBe(false);
});

test("aborted while it waited: false, and the channel it got goes to the next waiter", async () => {
  const limiter = new ChannelLimiter();
  await fill(limiter);
  const ac = new AbortController();
  const aborted = limiter.acquire(ac.signal);
  const next = limiter.acquire();
  ac.abort();
  limiter.release();
  expect(await aborted).toBe(false);
  expect(await next).toBe(true);
});
