import { expect, test } from "bun:test";
import { typeKeys } from "./prompt.ts";

const typed = (keys: string) => typeKeys({ text: "", done: null }, keys);

test.each([
  ["s3cret\r", { text: "s3cret", done: "enter" }],
  ["s3cret\n", { text: "s3cret", done: "enter" }],
  ["s3cret\x04", { text: "s3cret", done: null }], // Ctrl-D does not end a value: Enter does
  ["s3\x04cret\r", { text: "s3cret", done: "enter" }],
  ["\x04", { text: "", done: "cancel" }], // Ctrl-D on an empty line: end of input
  ["typo\x15right\r", { text: "right", done: "enter" }], // Ctrl-U clears the line
  ["abx\x7fc\r", { text: "abc", done: "enter" }],
  ["ab\b\bcd\r", { text: "cd", done: "enter" }],
  ["\x7f\x7fok\r", { text: "ok", done: "enter" }],
  ["pa ss\tword\r", { text: "pa ss\tword", done: "enter" }],
  ["a\x1b[Db\r", { text: "a[Db", done: "enter" }], // an arrow key's ESC is dropped, not interpreted
  ["héllo✓\r", { text: "héllo✓", done: "enter" }],
  ["secret\x03", { text: "secret", done: "cancel" }],
  ["partial", { text: "partial", done: null }],
  ["one\rtwo", { text: "one", done: "enter" }], // keys after Enter are not part of the value
] as const)("typeKeys(%j)", (keys, want) => {
  expect(typed(keys)).toEqual(want);
});

test("keys arrive in chunks", () => {
  expect(typeKeys(typed("ab"), "c\r")).toEqual({ text: "abc", done: "enter" });
});
