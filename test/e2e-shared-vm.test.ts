// One sandbox VM serves every e2e suite of a `bun test` run (test/e2e/harness.ts): this
// holds the suites to that pattern, so a new file cannot quietly bring back a boot per file.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const E2E = join(import.meta.dir, "e2e");

test("the preload that stops the shared VM after the last file is loaded by bun test", () => {
  // Not imported here: importing test/preload.ts would set the mark itself.
  expect((globalThis as Record<symbol, unknown>)[Symbol.for("qdeploy.test.preloaded")]).toBe(true);
});

test("no e2e suite starts or stops the sandbox itself: they share sandbox() and fleet() from the harness", () => {
  const offenders: string[] = [];
  for (const f of readdirSync(E2E).filter((f) => f.endsWith(".test.ts")).sort()) {
    const text = readFileSync(join(E2E, f), "utf8");
    for (const call of ["sandboxDown", "sandboxUp", "sandboxFleetUp", "sandboxStopVm"]) {
      if (new RegExp(`\\b${call}\\b`).test(text)) offenders.push(`${f}: ${call}`);
    }
  }
  expect(offenders).toEqual([]);
});
