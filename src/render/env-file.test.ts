import { describe, expect, test } from "bun:test";
import { bugMessage } from "../../test/bug.ts";
import { renderEnvFile } from "./env-file.ts";

describe("renderEnvFile", () => {
  test("KEY=\"VALUE\" lines sorted by key", () => {
    expect(renderEnvFile({ PORT_NAME: "web", DATABASE_URL: "postgres://u:p@db/app?x=1", A_1: "" })).toBe(
      'A_1=""\nDATABASE_URL="postgres://u:p@db/app?x=1"\nPORT_NAME="web"\n',
    );
  });

  test("no variables, empty file", () => {
    expect(renderEnvFile({})).toBe("");
  });

  // Exact text of the escaping: \ " ` $ get a backslash, everything else is kept as is.
  const escapes: [string, string][] = [
    ["plain", '"plain"'],
    ["two words", '"two words"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["it's", `"it's"`],
    ["$HOME ${X} $$", '"\\$HOME \\${X} \\$\\$"'],
    ["`id`", '"\\`id\\`"'],
    ["a\\b\\", '"a\\\\b\\\\"'],
    ["\\n is not a newline", '"\\\\n is not a newline"'],
    ["# ; not comments", '"# ; not comments"'],
    ["l1\nl2\r\n", '"l1\nl2\r\n"'],
    ["  padded  ", '"  padded  "'],
    ["a=b", '"a=b"'],
    ["héllo ☃ 𝄞", '"héllo ☃ 𝄞"'],
  ];
  for (const [value, quoted] of escapes) {
    test(`escapes ${JSON.stringify(value)}`, () => expect(renderEnvFile({ V: value })).toBe(`V=${quoted}\n`));
  }

  // The rules of systemd.exec(5) EnvironmentFile= for a double-quoted value, as systemd 252
  // implements them (src/basic/env-file.c): `\` followed by one of "\`$ yields that character,
  // `\` + newline is dropped, `\` + anything else is kept as both characters; everything else
  // up to the closing `"` is verbatim, newlines included; whitespace outside quotes is dropped.
  function parseEnvFile(text: string): Record<string, string> {
    const out: Record<string, string> = {};
    let i = 0;
    while (i < text.length) {
      const eq = text.indexOf("=", i);
      const key = text.slice(i, eq).trim();
      if (text[eq + 1] !== '"') throw new Error(`not double-quoted: ${key}`);
      let value = "";
      for (i = eq + 2; text[i] !== '"'; i++) {
        if (i >= text.length) throw new Error(`unterminated value: ${key}`);
        if (text[i] === "\\") {
          const next = text[++i]!;
          if ('"\\`$'.includes(next)) value += next;
          else if (next !== "\n") value += `\\${next}`;
        } else value += text[i];
      }
      if (text[i + 1] !== "\n") throw new Error(`no newline after ${key}`);
      out[key] = value;
      i += 2;
    }
    return out;
  }

  // The same rendering is run through a real systemd in units.test.ts ("real systemd round
  // trip") where root can unshare; the VM e2e suite checks it on the server.
  test("every value survives systemd's parsing rules unchanged", () => {
    const vars: Record<string, string> = Object.fromEntries(escapes.map(([v], n) => [`V${n}`, v]));
    vars.ALL_ASCII = Array.from({ length: 127 }, (_, c) => String.fromCharCode(c + 1)).join("");
    vars.BACKSLASH_QUOTE = '\\"';
    vars.TRAILING_BACKSLASH = "x\\";
    vars.BACKSLASH_NEWLINE = "a\\\nb";
    expect(parseEnvFile(renderEnvFile(vars))).toEqual(vars);
  });

  // Checked where they come from ([env] by check, secrets as the store is read): a bug here.
  test("asserts every name is one systemd keeps", () => {
    for (const bad of ["", "1X", "A-B", "A B", "A=B", "É"]) {
      expect(bugMessage(() => renderEnvFile({ [bad]: "x" }))).toContain("is not a valid variable name");
    }
  });

  test("asserts every value is one systemd takes", () => {
    expect(bugMessage(() => renderEnvFile({ A: "a\0b" }))).toBe("env: A contains a NUL byte, which no environment variable can hold");
    expect(bugMessage(() => renderEnvFile({ A: "\ud800" }))).toContain("U+D800");
    expect(bugMessage(() => renderEnvFile({ A: "\ufdd0" }))).toContain("U+FDD0");
    expect(bugMessage(() => renderEnvFile({ A: "\uffff" }))).toBe("env: A contains U+FFFF, which systemd refuses");
  });
});
