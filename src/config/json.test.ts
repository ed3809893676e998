import { describe, expect, test } from "bun:test";
import { parseJsonWithLines } from "./json.ts";

describe("parseJsonWithLines", () => {
  const good: [string, unknown][] = [
    ['{"a": 1, "b": [true, false, null], "c": {"d": "x\\ny\\u00e9"}}', { a: 1, b: [true, false, null], c: { d: "x\nyé" } }],
    ["\uFEFF[]", []],
    [" -1.5e3 ", -1500],
    ['"\\"\\\\\\/\\b\\f\\r\\t"', '"\\/\b\f\r\t'],
  ];
  for (const [text, value] of good) {
    test(`reads ${JSON.stringify(text)} as JSON.parse does`, () => {
      expect(parseJsonWithLines(text)).toMatchObject({ value });
    });
  }

  test("the line of every key and list item", () => {
    const r = parseJsonWithLines('{\n  "env": {\n    "A": "1",\n    "B": {}\n  },\n  "addons": [\n    "x",\n    {"plan": "y"}\n  ]\n}\n');
    expect("lines" in r && Object.fromEntries(r.lines)).toEqual({
      env: 2,
      "env.A": 3,
      "env.B": 4,
      addons: 6,
      "addons[0]": 7,
      "addons[1]": 8,
      "addons[1].plan": 8,
    });
  });

  // Each error at the line and column of what is wrong (1-based).
  const bad: [string, number, number, string][] = [
    ['{\n  "a": 1,\n}', 3, 1, "a comma before '}' (JSON allows none)"],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3, `expected ',' or '}' after the value of "a", found '"'`],
    ["{'a': 1}", 1, 2, "expected a property name in double quotes, found '''"],
    ['{"a": \'x\'}', 1, 7, "strings must be in double quotes"],
    ['{"a" 1}', 1, 6, `expected ':' after the property name "a", found '1'`],
    ['{"a": tru}', 1, 7, "expected a value, found 't'"],
    ['{"a": [1, 2,]}', 1, 13, "a comma before ']' (JSON allows none)"],
    ['{"a": [1 2]}', 1, 10, "expected ',' or ']' in the list, found '2'"],
    ['{"a": "b\n"}', 1, 7, "a string is not closed (a missing '\"'?)"],
    ['{"a": "b\tc"}', 1, 9, "a control character in a string (write it as an escape, e.g. \\n or \\t)"],
    ['{"a": "\\x"}', 1, 8, "not a JSON escape: \\x"],
    ['{"a": "\\u12"}', 1, 8, "\\u must be followed by four hex digits"],
    ['{"a": 1}\n{"b": 2}', 2, 1, "text after the end of the JSON value"],
    ['{"a": ', 1, 7, "unexpected end of the file: a value is missing"],
    ['{"a": 1', 1, 8, `expected ',' or '}' after the value of "a", found the end of the file`],
    ["", 1, 1, "unexpected end of the file: a value is missing"],
    ['{"a": -}', 1, 7, "not a JSON number"],
  ];
  for (const [text, line, column, message] of bad) {
    test(`${JSON.stringify(text)}: ${line}:${column} ${message}`, () => {
      expect(parseJsonWithLines(text)).toEqual({ error: { line, column, message } });
      expect(() => JSON.parse(text)).toThrow(); // each really is broken JSON
    });
  }
});
