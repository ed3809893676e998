import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DeliveryLog } from "./deliveries.ts";

const HOUR = 3600_000;
const body = (i: number) => `body-${i.toString(16).padStart(64, "0")}`;

function setup() {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "qdeploy-deliveries-")), "deliveries");
  let clock = Date.parse("2026-12-02T10:00:00Z");
  return { file, log: new DeliveryLog(file, () => clock), tick: (ms: number) => (clock += ms), now: () => clock };
}

/** Claims deliveries from..to-1, each an id and its body's key, as the hooks do. */
async function claimAll(log: DeliveryLog, from: number, to: number) {
  for (let i = from; i < to; i++) expect(await log.claim([`d-${i}`, body(i)])).toBe(true);
}

describe("DeliveryLog", () => {
  test("the last 1000 deliveries are remembered (each is an id and a body: 2000 keys), then the oldest is forgotten once a day old", async () => {
    const { log, tick } = setup();
    await claimAll(log, 0, 1000);
    expect(await log.claim(["d-0"])).toBe(false);
    expect(await log.claim([body(0)])).toBe(false);
    tick(25 * HOUR);
    await claimAll(log, 1000, 1001);
    // d-0 is a day old and 1000 came after it: forgotten. d-1 is one of the last 1000.
    expect(await log.claim(["d-1"])).toBe(false);
    expect(await log.claim(["d-0"])).toBe(true);
  }, 20_000);

  test("every delivery of the last 24 hours is remembered, however many came after it", async () => {
    const { log, tick } = setup();
    await claimAll(log, 0, 1500);
    tick(23 * HOUR);
    await claimAll(log, 1500, 1600);
    expect(await log.claim(["d-0"])).toBe(false);
    expect(await log.claim([body(0)])).toBe(false);
  }, 20_000);

  test("a restarted server remembers the deliveries and their times; a file of bare ids (before times) is read as seen now", async () => {
    const { file, log, tick, now } = setup();
    await claimAll(log, 0, 1200);
    tick(25 * HOUR);
    const again = new DeliveryLog(file, now);
    expect(await again.claim(["d-200"])).toBe(false);
    // With another delivery, those beyond the last 1000 that are a day old go, from memory and from the file.
    expect(await again.claim(["d-new"])).toBe(true);
    expect(await again.claim(["d-0"])).toBe(true);
    expect(await again.claim(["d-500"])).toBe(false);
    expect(readFileSync(file, "utf8")).not.toContain("d-1 ");
    const legacy = path.join(path.dirname(file), "legacy");
    writeFileSync(legacy, "old-id\nbody-" + "a".repeat(64) + "\n");
    const read = new DeliveryLog(legacy, now);
    expect(await read.claim(["old-id"])).toBe(false);
    expect(await read.claim(["body-" + "a".repeat(64)])).toBe(false);
  }, 20_000);
});
