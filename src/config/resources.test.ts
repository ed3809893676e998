import { describe, expect, test } from "bun:test";
import { DYNO_SIZES, parseMemory, ResourceProblem, resolveResources } from "./resources.ts";

describe("parseMemory", () => {
  test("systemd's base-1024 units, fractions, an optional B or iB", () => {
    expect(parseMemory("512M")).toBe(512 * 1024 ** 2);
    expect(parseMemory("1.5G")).toBe(1.5 * 1024 ** 3);
    expect(parseMemory("65536KiB")).toBe(64 * 1024 ** 2);
    expect(parseMemory("1gb")).toBe(1024 ** 3);
  });

  test("no unit, a unit it does not know, or less than 16M is refused, saying why", () => {
    expect(() => parseMemory("512")).toThrow('"512" is not an amount of memory');
    expect(() => parseMemory("1P")).toThrow("K, M, G or T");
    expect(() => parseMemory("8M")).toThrow("less than 16M");
  });
});

describe("resolveResources", () => {
  test("a dyno size gives its memory and CPU share; a key given wins over the size's", () => {
    expect(resolveResources({ size: "standard-2x" })).toEqual({ size: "standard-2x", memoryBytes: 1024 ** 3, cpu: null, cpuWeight: 200, tasks: null, nofile: null });
    expect(resolveResources({ size: "standard-1x", memory: "256M", cpu: 0.5, tasks: 64, nofile: 4096 })).toEqual({
      size: "standard-1x",
      memoryBytes: 256 * 1024 ** 2,
      cpu: 0.5,
      cpuWeight: null, // systemd's default share
      tasks: 64,
      nofile: 4096,
    });
    expect(resolveResources({ size: "performance-m" }).memoryBytes).toBe(2.5 * 1024 ** 3);
  });

  test("an unknown size names the sizes; a bad memory names its key", () => {
    const problem = (raw: Parameters<typeof resolveResources>[0]) => {
      try {
        resolveResources(raw);
      } catch (e) {
        return e instanceof ResourceProblem ? { key: e.key, message: e.message } : e;
      }
    };
    expect(problem({ size: "standard-3x" })).toEqual({ key: "size", message: `"standard-3x" is not a dyno size; sizes: ${Object.keys(DYNO_SIZES).join(", ")}` });
    expect(problem({ memory: "lots" })).toMatchObject({ key: "memory", message: expect.stringContaining('"lots" is not an amount of memory') });
  });
});
