// Issue 22: push's calls go down the layers config → facts → plan → execute and step back up
// at most MAX_BACK_UPS times (scripts/trace-push.ts says how it is counted).
import { expect, test } from "bun:test";
import { layerOf, tracePush } from "../scripts/trace-push.ts";

/** The steps back up the trace finds now: lower it when one is fixed, never raise it. */
const MAX_BACK_UPS = 3;

const trace = tracePush();

test("the trace starts at push and follows it through every layer", () => {
  expect(trace.entry).toBe("src/ops/deploy.ts:push");
  expect(trace.files.length).toBeGreaterThan(5);
  const files = trace.files.map((f) => f.file);
  for (const f of ["src/secrets/store.ts", "src/build/builds.ts", "src/remote/host-ops.ts", "src/plan/push.ts", "src/ops/execute.ts", "src/remote/run-plan.ts"]) expect(files).toContain(f);
});

test("it walks in call order: the secrets (config), the build and the hosts' facts, the plan, its execution", () => {
  const at = (file: string) => trace.sequence.indexOf(file);
  const order = ["src/secrets/store.ts", "src/build/builds.ts", "src/remote/host-ops.ts", "src/plan/push.ts", "src/ops/execute.ts"].map(at);
  expect(order.every((i) => i >= 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
});

test(`it steps back up at most ${MAX_BACK_UPS} times`, () => {
  for (const e of trace.backUps) expect(e.to).toBeLessThan(e.from);
  expect(trace.backUps.length).toBeLessThanOrEqual(MAX_BACK_UPS);
});

test("every src file has a layer; util and the error and event types are leaves", () => {
  expect(layerOf("src/ops/deploy.ts").layer).toBe(0);
  expect(layerOf("src/ops/execute.ts").layer).toBe(4);
  expect(layerOf("src/util/quote.ts").layer).toBeNull();
  expect(() => layerOf("src/nowhere/x.ts")).toThrow("no layer");
});
