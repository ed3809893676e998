import { describe, expect, test } from "bun:test";
import type { ResolvedConfig } from "../config/types.ts";
import { DEFAULT_CONCURRENCY, hostConcurrency, planWaves } from "./waves.ts";

type Batch = ResolvedConfig["rollout"]["batch"];

/** "a|bc" is the waves [["a"], ["b", "c"]]. */
const waves = (s: string) => s.split("|").map((w) => [...w]);

const BATCHES: [string, Batch][] = [
  ["default", null],
  ["batch 1", 1],
  ["batch 2", 2],
  ["batch 3", 3],
  ['"25%"', { percent: 25 }],
  ['"50%"', { percent: 50 }],
  ['"100%"', { percent: 100 }],
];

/** Hosts a..g; per row the waves for each batch above, in that order (worked out by hand). */
const ROWS: [number, string[]][] = [
  [1, ["a", "a", "a", "a", "a", "a", "a"]],
  [2, ["a|b", "a|b", "ab", "ab", "a|b", "a|b", "ab"]],
  [3, ["a|bc", "a|b|c", "ab|c", "abc", "a|b|c", "ab|c", "abc"]],
  [4, ["a|bcd", "a|b|c|d", "ab|cd", "abc|d", "a|b|c|d", "ab|cd", "abcd"]],
  [5, ["a|bcde", "a|b|c|d|e", "ab|cd|e", "abc|de", "ab|cd|e", "abc|de", "abcde"]],
  [6, ["a|bcdef", "a|b|c|d|e|f", "ab|cd|ef", "abc|def", "ab|cd|ef", "abc|def", "abcdef"]],
  [7, ["a|bcdefg", "a|b|c|d|e|f|g", "ab|cd|ef|g", "abc|def|g", "ab|cd|ef|g", "abcd|efg", "abcdefg"]],
];

describe("planWaves", () => {
  for (const [n, wants] of ROWS) {
    const hosts = [..."abcdefg"].slice(0, n);
    BATCHES.forEach(([name, batch], i) => {
      test(`${n} host${n > 1 ? "s" : ""}, ${name}: ${wants[i]}`, () => {
        expect(planWaves(hosts, { batch, pauseSec: 0 })).toEqual(waves(wants[i]!));
      });
    });
  }

  test("no hosts, no waves; the items are not changed", () => {
    expect(planWaves([], { batch: null, pauseSec: 0 })).toEqual([]);
    const hosts = ["a", "b", "c"];
    planWaves(hosts, { batch: 2, pauseSec: 0 })[0]!.push("x");
    expect(hosts).toEqual(["a", "b", "c"]);
  });

  test("a batch larger than the fleet is one wave", () => {
    expect(planWaves(["a", "b"], { batch: 5, pauseSec: 0 })).toEqual([["a", "b"]]);
  });
});

test("hostConcurrency: rollout.concurrency as written, else 32", () => {
  expect([hostConcurrency({ batch: null, pauseSec: 0 }), DEFAULT_CONCURRENCY]).toEqual([32, 32]);
  expect(hostConcurrency({ batch: 2, pauseSec: 0, concurrency: 5 })).toBe(5);
});
