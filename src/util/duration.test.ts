import { describe, expect, test } from "bun:test";
import { parseDuration, systemdSpan, wholeSeconds } from "./duration.ts";

describe("parseDuration", () => {
  const good: [string, number][] = [
    ["30s", 30],
    ["15m", 900],
    ["1h30m", 5400],
    ["1h 30min", 5400],
    ["500ms", 0.5],
    ["90", 90],
    ["2.5", 2.5],
    ["1.5h", 5400],
    ["2d", 172800],
    ["1w", 604800],
    ["1M", 2629800],
    ["0", 0],
    [" 10s ", 10],
    ["1s 100ms", 1.1],
    ["250us", 0.00025],
  ];
  for (const [input, seconds] of good) test(`"${input}" is ${seconds}s`, () => expect(parseDuration(input)).toBe(seconds));

  const bad: [string, string][] = [
    ["", 'empty duration; write e.g. "30s", "15m" or "1h30m"'],
    ["soon", 'bad duration "soon"; write e.g. "30s", "15m", "1h30m" or "500ms" (a plain number is seconds)'],
    ["-5s", 'bad duration "-5s"'],
    ["5 parsecs", 'bad duration "5 parsecs": unknown unit "parsecs"; use ms, s, m, h, d or w'],
    ["10S", 'unknown unit "S"'],
    ["1h30", 'bad duration "1h30"'],
    // Digits that overflow: no unit file could say it (systemdSpan refuses it).
    ["9".repeat(400), "Infinity is not a number of seconds"],
    [`${"9".repeat(400)}ms`, "Infinity is not a number of seconds"],
  ];
  for (const [input, message] of bad) test(`"${input.slice(0, 20)}" throws`, () => expect(() => parseDuration(input)).toThrow(message));
});

describe("systemdSpan and wholeSeconds", () => {
  const cases: [number, string, number][] = [
    [30, "30s", 30],
    [0, "0s", 1],
    [1.5, "1500ms", 2],
    [0.5, "500ms", 1],
    [1.1, "1100ms", 2],
    [0.00025, "1ms", 1],
    [1e-7, "1ms", 1],
    [5400, "5400s", 5400],
  ];
  for (const [sec, span, whole] of cases) {
    test(`${sec}s is ${span} for systemd, ${whole} for the switch`, () => {
      expect(systemdSpan(sec)).toBe(span);
      expect(wholeSeconds(sec)).toBe(whole);
    });
  }
  test("refuses what is not a number of seconds", () => {
    expect(() => systemdSpan(-1)).toThrow("not a number of seconds");
    expect(() => wholeSeconds(NaN)).toThrow("not a number of seconds");
  });
});
