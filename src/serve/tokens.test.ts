import { afterAll, afterEach, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AuthError } from "../errors.ts";
import { TokenStore } from "./tokens.ts";

// Each argon2id check takes 64 MiB and tens of milliseconds: what a stranger who knows a
// token's id (it is in every log line that names the token) must not be able to make the
// server do per request.
let dir = "";
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "qdeploy-tokens-"));
});
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

let now = new Date("2026-12-02T10:00:00Z");
let n = 0;
/** A store with one deploy token; the clock is `now`, moved by the tests. */
async function storeWithToken() {
  now = new Date("2026-12-02T10:00:00Z");
  const store = new TokenStore(path.join(dir, `tokens-${++n}.json`), () => now);
  const { token } = await store.add("alice", "deploy");
  return { store, token, id: token.split("_")[1]!, wrong: (i: number) => `${token.slice(0, -6)}${String(i).padStart(6, "A")}` };
}

/** Counts argon2id checks, and the most that ran at once. */
function countChecks() {
  const verify = Bun.password.verify.bind(Bun.password);
  const seen = { calls: 0, inFlight: 0, maxInFlight: 0 };
  const spy = spyOn(Bun.password, "verify").mockImplementation(async (...args: Parameters<typeof Bun.password.verify>) => {
    seen.calls++;
    seen.maxInFlight = Math.max(seen.maxInFlight, ++seen.inFlight);
    try {
      return await verify(...args);
    } finally {
      seen.inFlight--;
    }
  });
  return { seen, spy };
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => "accepted",
    (e) => (e instanceof AuthError ? e.message : `unexpected: ${e}`),
  );

describe("failed token checks cost nothing the second time", () => {
  let spy: { mockRestore: () => void } | undefined;
  afterEach(() => spy?.mockRestore());

  test("the same wrong token again is refused from memory: one argon2id check", async () => {
    const t = await storeWithToken();
    const c = countChecks();
    spy = c.spy;
    for (let i = 0; i < 3; i++) expect(await refusal(t.store.verify(t.wrong(1)))).toBe("unknown token");
    expect(c.seen.calls).toBe(1);
  });

  test("after 5 failed checks of one token id in a minute, its unverified tokens are refused without a check until the minute is over", async () => {
    const t = await storeWithToken();
    const c = countChecks();
    spy = c.spy;
    for (let i = 0; i < 5; i++) expect(await refusal(t.store.verify(t.wrong(i)))).toBe("unknown token");
    const limited = `too many failed attempts with token id ${t.id}: refused without a check until 2026-12-02T10:01:00.000Z`;
    for (let i = 5; i < 20; i++) expect(await refusal(t.store.verify(t.wrong(i)))).toBe(limited);
    // The right token, never checked before, waits out the minute too: it cannot be told apart unchecked.
    expect(await refusal(t.store.verify(t.token))).toBe(limited);
    expect(c.seen.calls).toBe(5);
    now = new Date("2026-12-02T10:01:00Z");
    expect((await t.store.verify(t.token)).name).toBe("alice");
    expect(c.seen.calls).toBe(6);
  }, 30_000);

  test("a session that checked its token before keeps working while its id is refused to others", async () => {
    const t = await storeWithToken();
    expect((await t.store.verify(t.token)).name).toBe("alice");
    for (let i = 0; i < 8; i++) await refusal(t.store.verify(t.wrong(i)));
    const c = countChecks();
    spy = c.spy;
    expect((await t.store.verify(t.token)).name).toBe("alice");
    expect(c.seen.calls).toBe(0);
  });

  test("a flood of wrong tokens at once runs one check at a time per token id (64 MiB each), and no more than the limit", async () => {
    const t = await storeWithToken();
    const c = countChecks();
    spy = c.spy;
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => refusal(t.store.verify(t.wrong(i)))));
    expect(c.seen.maxInFlight).toBe(1);
    expect(c.seen.calls).toBe(5);
    expect(answers.filter((a) => a === "unknown token").length).toBe(5);
    expect(answers.filter((a) => a.startsWith("too many failed attempts")).length).toBe(35);
  }, 30_000);
});
