import { describe, expect, test } from "bun:test";
import { formatDotenv, parseDotenv, secretNameProblem } from "./dotenv.ts";

const awkward: Record<string, string> = {
  EMPTY: "",
  SPACES: "  leading and trailing  ",
  EQUALS: "a=b==c",
  QUOTED: '"starts and ends with quotes"',
  ONE_QUOTE: '"',
  INNER_QUOTE: 'say "hi"',
  NEWLINES: "line 1\nline 2\n",
  ONLY_NEWLINE: "\n",
  CRLF: "a\r\nb",
  CR_END: "ends with cr\r",
  BACKSLASH: "C:\\path\\to",
  LITERAL_ESCAPE: "not a newline: \\n",
  BACKSLASH_END: "ends with \\",
  HASH: "#not a comment",
  TAB: "a\tb",
  UNICODE: "naïve ✓ 🎉",
  PEM: "-----BEGIN KEY-----\nMIIB\\+/==\n-----END KEY-----",
  DOLLAR: "$HOME ${X} `id`",
};

describe("dotenv", () => {
  test("awkward values survive a round trip", () => {
    const text = formatDotenv(awkward);
    const { values, problems } = parseDotenv(text);
    expect(problems).toEqual([]);
    expect(values).toEqual(awkward);
    expect(Object.keys(values)).toEqual(Object.keys(awkward)); // order kept
    expect(text.split("\n").length).toBe(Object.keys(awkward).length + 1); // one line each
  });

  test("formats plain values verbatim and the rest quoted", () => {
    expect(formatDotenv({ A: "x y", B: "two\nlines", C: '"q"', D: "back\\slash" })).toBe(
      'A=x y\nB="two\\nlines"\nC="\\"q\\""\nD=back\\slash\n',
    );
  });

  test("skips comments and blank lines, accepts CRLF files", () => {
    const { values, problems } = parseDotenv("# a comment\r\n\r\n  # indented\r\nA=1\r\nB=\"x\\ny\"\r\n");
    expect(problems).toEqual([]);
    expect(values).toEqual({ A: "1", B: "x\ny" });
  });

  test.each([
    ["no equals sign", "A=1\nhunter2secret\n", 2, "expected KEY=VALUE"],
    ["bad name", "A=1\n\nmy-key=hunter2secret\n", 3, "not a valid name"],
    ["name with a space", "A =hunter2secret", 1, "not a valid name"],
    ["leading digit", "1A=hunter2secret", 1, "not a valid name"],
    ["PORT", "PORT=hunter2secret", 1, "PORT is set by qdeploy"],
    ["QDEPLOY_", "QDEPLOY_X=hunter2secret", 1, "QDEPLOY_X: names starting with QDEPLOY_ are reserved"],
    ["unterminated quote", 'A="hunter2secret', 1, "no closing quote"],
    ["bad escape", 'A="hunter2\\tsecret"', 1, "unknown escape"],
    ["text after quote", 'A="hunter2" secret', 1, "text after the closing quote"],
    ["duplicate", "A=hunter2secret\nA=other", 2, "A is set again (first on line 1)"],
  ])("%s: a problem with its line number, never its content", (_name, text, line, message) => {
    const { problems } = parseDotenv(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.line).toBe(line);
    expect(problems[0]!.message).toStartWith(`line ${line}: `);
    expect(problems[0]!.message).toContain(message);
    expect(problems[0]!.message).not.toContain("hunter2");
  });

  test("reports every problem at once", () => {
    expect(parseDotenv("x\nA=1\ny\n").problems.map((p) => p.line)).toEqual([1, 3]);
  });

  test.each([
    ["DATABASE_URL", null],
    ["_x1", null],
    ["a", null],
    ["", "not a valid name"],
    ["9X", "not a valid name"],
    ["A-B", "not a valid name"],
    ["PORT", "PORT"],
    ["QDEPLOY_AGE_KEY", "reserved"],
  ])("name %p", (name, expected) => {
    const p = secretNameProblem(name);
    if (expected === null) expect(p).toBeNull();
    else expect(p).toContain(expected);
  });
});
