import { describe, expect, test } from "bun:test";
import {
  SECRETS_FORMAT_LINE,
  dotenvValueProblem,
  formatDotenv,
  formatSecretsText,
  parseDotenv,
  parseLegacyDotenv,
  parseSecretsText,
  secretNameProblem,
} from "./dotenv.ts";

const awkward: Record<string, string> = {
  EMPTY: "",
  SPACES: "  leading and trailing  ",
  EQUALS: "a=b==c",
  QUOTED: '"starts and ends with quotes"',
  ONE_QUOTE: '"',
  ONE_SINGLE: "'",
  ONE_BACKTICK: "`",
  INNER_QUOTE: 'say "hi"',
  APOSTROPHE: "it's # here",
  TWO_QUOTES: `'both' and "both"`,
  NEWLINES: "line 1\nline 2\n",
  ONLY_NEWLINE: "\n",
  CRLF: "a\r\nb",
  CR_END: "ends with cr\r",
  BACKSLASH: "C:\\path\\to",
  LITERAL_ESCAPE: "not a newline: \\n",
  LITERAL_ESCAPE_MULTILINE: "two\nlines and \\n",
  BACKSLASH_END: "ends with \\",
  BACKSLASH_QUOTE: "\\'quoted\\' #",
  HASH: "#not a comment",
  HASH_INSIDE: "p@ss#word",
  SPACE_HASH: "value # not a comment",
  TAB: "a\tb",
  UNICODE: "naïve ✓ 🎉",
  PEM: "-----BEGIN KEY-----\nMIIB\\+/==\n-----END KEY-----",
  DOLLAR: "$HOME ${X} `id`",
  EXPORTISH: "export X=1",
  JSON: '{"a": "b\'s"}',
};

describe("parseDotenv reads what dotenv reads", () => {
  // Lines and values from the dotenv package's own fixtures (tests/.env, tests/.env-multiline, v16).
  const fixture = [
    ["BASIC=basic", "BASIC", "basic"],
    ["EMPTY=", "EMPTY", ""],
    ["EMPTY_SINGLE_QUOTES=''", "EMPTY_SINGLE_QUOTES", ""],
    ['EMPTY_DOUBLE_QUOTES=""', "EMPTY_DOUBLE_QUOTES", ""],
    ["EMPTY_BACKTICKS=``", "EMPTY_BACKTICKS", ""],
    ["SINGLE_QUOTES='single_quotes'", "SINGLE_QUOTES", "single_quotes"],
    ["SINGLE_QUOTES_SPACED='    single quotes    '", "SINGLE_QUOTES_SPACED", "    single quotes    "],
    ['DOUBLE_QUOTES="double_quotes"', "DOUBLE_QUOTES", "double_quotes"],
    ['DOUBLE_QUOTES_SPACED="    double quotes    "', "DOUBLE_QUOTES_SPACED", "    double quotes    "],
    [`DOUBLE_QUOTES_INSIDE_SINGLE='double "quotes" work inside single quotes'`, "DOUBLE_QUOTES_INSIDE_SINGLE", 'double "quotes" work inside single quotes'],
    ['DOUBLE_QUOTES_WITH_NO_SPACE_BRACKET="{ port: $MONGOLAB_PORT}"', "DOUBLE_QUOTES_WITH_NO_SPACE_BRACKET", "{ port: $MONGOLAB_PORT}"],
    [`SINGLE_QUOTES_INSIDE_DOUBLE="single 'quotes' work inside double quotes"`, "SINGLE_QUOTES_INSIDE_DOUBLE", "single 'quotes' work inside double quotes"],
    ["BACKTICKS_INSIDE_SINGLE='`backticks` work inside single quotes'", "BACKTICKS_INSIDE_SINGLE", "`backticks` work inside single quotes"],
    ['BACKTICKS_INSIDE_DOUBLE="`backticks` work inside double quotes"', "BACKTICKS_INSIDE_DOUBLE", "`backticks` work inside double quotes"],
    ["BACKTICKS=`backticks`", "BACKTICKS", "backticks"],
    ["BACKTICKS_SPACED=`    backticks    `", "BACKTICKS_SPACED", "    backticks    "],
    ['DOUBLE_QUOTES_INSIDE_BACKTICKS=`double "quotes" work inside backticks`', "DOUBLE_QUOTES_INSIDE_BACKTICKS", 'double "quotes" work inside backticks'],
    ["SINGLE_QUOTES_INSIDE_BACKTICKS=`single 'quotes' work inside backticks`", "SINGLE_QUOTES_INSIDE_BACKTICKS", "single 'quotes' work inside backticks"],
    [
      `DOUBLE_AND_SINGLE_QUOTES_INSIDE_BACKTICKS=\`double "quotes" and single 'quotes' work inside backticks\``,
      "DOUBLE_AND_SINGLE_QUOTES_INSIDE_BACKTICKS",
      `double "quotes" and single 'quotes' work inside backticks`,
    ],
    ['EXPAND_NEWLINES="expand\\nnew\\nlines"', "EXPAND_NEWLINES", "expand\nnew\nlines"],
    ["DONT_EXPAND_UNQUOTED=dontexpand\\nnewlines", "DONT_EXPAND_UNQUOTED", "dontexpand\\nnewlines"],
    ["DONT_EXPAND_SQUOTED='dontexpand\\nnewlines'", "DONT_EXPAND_SQUOTED", "dontexpand\\nnewlines"],
    ["INLINE_COMMENTS=inline comments # work #very #well", "INLINE_COMMENTS", "inline comments"],
    ["INLINE_COMMENTS_SINGLE_QUOTES='inline comments outside of #singlequotes' # work", "INLINE_COMMENTS_SINGLE_QUOTES", "inline comments outside of #singlequotes"],
    ['INLINE_COMMENTS_DOUBLE_QUOTES="inline comments outside of #doublequotes" # work', "INLINE_COMMENTS_DOUBLE_QUOTES", "inline comments outside of #doublequotes"],
    ["INLINE_COMMENTS_BACKTICKS=`inline comments outside of #backticks` # work", "INLINE_COMMENTS_BACKTICKS", "inline comments outside of #backticks"],
    ["EQUAL_SIGNS=equals==", "EQUAL_SIGNS", "equals=="],
    ['RETAIN_INNER_QUOTES={"foo": "bar"}', "RETAIN_INNER_QUOTES", '{"foo": "bar"}'],
    [`RETAIN_INNER_QUOTES_AS_STRING='{"foo": "bar"}'`, "RETAIN_INNER_QUOTES_AS_STRING", '{"foo": "bar"}'],
    ['RETAIN_INNER_QUOTES_AS_BACKTICKS=`{"foo": "bar\'s"}`', "RETAIN_INNER_QUOTES_AS_BACKTICKS", '{"foo": "bar\'s"}'],
    ["RETAIN_TRAILING_DQUOTE=retained\"", "RETAIN_TRAILING_DQUOTE", 'retained"'],
    ["RETAIN_TRAILING_SQUOTE=retained'", "RETAIN_TRAILING_SQUOTE", "retained'"],
    ["TRIM_SPACE_FROM_UNQUOTED=    some spaced out string", "TRIM_SPACE_FROM_UNQUOTED", "some spaced out string"],
    ['SPACE_BEFORE_DOUBLE_QUOTES=   "space before double quotes"', "SPACE_BEFORE_DOUBLE_QUOTES", "space before double quotes"],
    ["EMAIL=therealnerdybeast@example.tld", "EMAIL", "therealnerdybeast@example.tld"],
    ["    SPACED_KEY = parsed", "SPACED_KEY", "parsed"],
    ['EDGE_CASE_INLINE_COMMENTS="VALUE1" # or "VALUE2" or "VALUE3"', "EDGE_CASE_INLINE_COMMENTS", "VALUE1"],
    ["export EXPORT_EXAMPLE = ignore export", "EXPORT_EXAMPLE", "ignore export"],
    ['MULTI_DOUBLE_QUOTED="THIS\nIS\nA\nMULTILINE\nSTRING"', "MULTI_DOUBLE_QUOTED", "THIS\nIS\nA\nMULTILINE\nSTRING"],
    ["MULTI_SINGLE_QUOTED='THIS\nIS\nA\nMULTILINE\nSTRING'", "MULTI_SINGLE_QUOTED", "THIS\nIS\nA\nMULTILINE\nSTRING"],
    ["MULTI_BACKTICKED=`THIS\nIS\nA\n\"MULTILINE'S\"\nSTRING`", "MULTI_BACKTICKED", "THIS\nIS\nA\n\"MULTILINE'S\"\nSTRING"],
    ["MULTI_PEM_DOUBLE_QUOTED=\"-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnNl1tL3QjKp3DZWM0T3u\n-----END PUBLIC KEY-----\"", "MULTI_PEM_DOUBLE_QUOTED", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnNl1tL3QjKp3DZWM0T3u\n-----END PUBLIC KEY-----"],
    ["SERVER=localhost\r\n", "SERVER", "localhost"],
  ] as const;

  test.each(fixture)("%j", (line, name, value) => {
    const { values, problems } = parseDotenv(`${line}\n`);
    expect(problems).toEqual([]);
    expect(values).toEqual({ [name]: value });
  });

  test("the fixture lines as one file, with comments and blank lines between", () => {
    const text = ["\uFEFF# a comment", "", ...fixture.map(([line]) => line), "# COMMENTS=work", "  # indented"].join("\n");
    const { values, problems } = parseDotenv(text);
    expect(problems).toEqual([]);
    expect(values).toEqual(Object.fromEntries(fixture.map(([, n, v]) => [n, v])));
    expect(Object.keys(values)).not.toContain("COMMENTS");
  });

  test("line endings: LF, CRLF and lone CR read the same", () => {
    for (const eol of ["\n", "\r\n", "\r"]) {
      expect(parseDotenv(["SERVER=localhost", "PASSWORD=password", "DB=tests", ""].join(eol)).values).toEqual({
        SERVER: "localhost",
        PASSWORD: "password",
        DB: "tests",
      });
    }
  });

  test("line numbers count the lines of a multi-line value", () => {
    const { problems } = parseDotenv("A='one\ntwo\nthree'\nB=ok\nnot a pair\n");
    expect(problems.map((p) => p.line)).toEqual([5]);
  });
});

describe("parseDotenv reports, by line number only, what dotenv would read silently or surprisingly", () => {
  test.each([
    ["no equals sign", "A=1\nhunter2secret\n", 2, "expected KEY=VALUE"],
    ["export without a value", "export hunter2secret", 1, "expected KEY=VALUE"],
    ["YAML-style colon", "A: hunter2secret", 1, "expected KEY=VALUE"],
    ["bad name", "A=1\n\nmy-key=hunter2secret\n", 3, "not a valid name"],
    ["dotted name", "my.key=hunter2secret", 1, "not a valid name"],
    ["name with a space", "A B=hunter2secret", 1, "not a valid name"],
    ["leading digit", "1A=hunter2secret", 1, "not a valid name"],
    ["PORT", "PORT=hunter2secret", 1, "PORT is set by qdeploy"],
    ["QDEPLOY_", "QDEPLOY_X=hunter2secret", 1, "QDEPLOY_X: names starting with QDEPLOY_ are reserved"],
    ["unclosed double quote", 'A="hunter2secret', 1, 'starts with " but has no closing "'],
    ["unclosed single quote", "A='hunter2secret\nB=x", 1, "starts with ' but has no closing '"],
    ["text after the closing quote", 'A="hunter2" secret', 1, 'no closing "'],
    ["a quote inside single quotes", "A='hunter2's'", 1, "no closing '"],
    ["# glued to a value", "A=hunter2#secret", 1, "would cut the value there"],
    ["# right after =", "A=#hunter2secret", 1, "would cut the value there"],
    ["duplicate", "A=hunter2secret\nA=other", 2, "A is set again (first on line 1)"],
  ])("%s", (_name, text, line, message) => {
    const { problems } = parseDotenv(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.line).toBe(line);
    expect(problems[0]!.message).toStartWith(`line ${line}: `);
    expect(problems[0]!.message).toContain(message);
    expect(problems[0]!.message).not.toContain("hunter2");
  });

  test("reports every problem at once and keeps reading after each", () => {
    const { values, problems } = parseDotenv("x\nA=1\ny\nB='unclosed\nC=3\n");
    expect(problems.map((p) => p.line)).toEqual([1, 3, 4]);
    expect(values).toEqual({ A: "1", C: "3" });
  });

  test("a value that is a comment after spaces is empty, as in dotenv", () => {
    expect(parseDotenv("A= # nothing here\nB=\t#\n").values).toEqual({ A: "", B: "" });
  });

  test("an escaped quote inside quotes is kept with its backslash, as dotenv does", () => {
    expect(parseDotenv("A='it\\'s'\nB=\"say \\\"hi\\\"\"\n").values).toEqual({ A: "it\\'s", B: 'say \\"hi\\"' });
  });
});

describe("formatDotenv", () => {
  test("awkward values survive a round trip, in order", () => {
    const text = formatDotenv(awkward);
    const { values, problems } = parseDotenv(text);
    expect(problems).toEqual([]);
    expect(values).toEqual(awkward);
    expect(Object.keys(values)).toEqual(Object.keys(awkward));
  });

  test("writes plain values bare and the rest in the first quotes that keep them", () => {
    expect(
      formatDotenv({ A: "x y", B: "two\nlines", C: '"q"', D: "back\\slash", E: " pad", F: "it's #1", G: "cr\r", H: `'"`, I: "" }),
    ).toBe(["A=x y", "B='two", "lines'", "C='\"q\"'", "D=back\\slash", "E=' pad'", 'F="it\'s #1"', 'G="cr\\r"', "H=`'\"`", "I=", ""].join("\n"));
  });

  test("refuses, naming the key, the values no dotenv spelling keeps", () => {
    for (const v of ["ends with \\ and # needs quotes \\", `' " \` all three`]) {
      expect(dotenvValueProblem(v)).toContain("cannot be written in a dotenv file");
      expect(() => formatDotenv({ OK: "x", BAD_ONE: v })).toThrow("cannot write BAD_ONE as dotenv");
    }
    expect(dotenvValueProblem("plain\\")).toBeNull(); // bare, a trailing backslash is fine
  });

  test("random values: every one either round-trips or is refused", () => {
    const alphabet = ["a", " ", "\t", "'", '"', "`", "\\", "#", "=", "\n", "\r", "n", "r", "$", "é"];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
    let written = 0;
    for (let i = 0; i < 3000; i++) {
      const values: Record<string, string> = {};
      for (let k = 0; k < 1 + rand(4); k++) values[`K${k}`] = Array.from({ length: rand(8) }, () => alphabet[rand(alphabet.length)]).join("");
      if (Object.values(values).some((v) => dotenvValueProblem(v) !== null)) continue;
      expect(parseDotenv(formatDotenv(values))).toEqual({ values, problems: [] });
      written++;
    }
    expect(written).toBeGreaterThan(2000);
  });
});

describe("the text inside a secrets file", () => {
  test("qdeploy writes the format line first, and reads its own text back", () => {
    const text = formatSecretsText(awkward);
    expect(text.split("\n")[0]).toBe(SECRETS_FORMAT_LINE);
    expect(parseSecretsText(text)).toEqual({ values: awkward, problems: [] });
  });

  test("a file from an older qdeploy (no format line) keeps its values' meaning", () => {
    const old = 'SPACES=  padded  \nHASH=a # b\nQ=\'x\'\nESC="back\\\\slash \\"q\\"\\n"\n';
    const want = { SPACES: "  padded  ", HASH: "a # b", Q: "'x'", ESC: 'back\\slash "q"\n' };
    expect(parseLegacyDotenv(old)).toEqual({ values: want, problems: [] });
    expect(parseSecretsText(old)).toEqual({ values: want, problems: [] });
  });

  test("a hand-made dotenv file without the format line is read as dotenv when the old format cannot read it", () => {
    expect(parseSecretsText("export A=1 # one\nB = 'two'\n")).toEqual({ values: { A: "1", B: "two" }, problems: [] });
  });
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

describe("names that are also Object.prototype's are ordinary names", () => {
  // Written `["__proto__"]`: a literal's `__proto__:` would set its prototype instead.
  const text = "__proto__=x\nconstructor=y\ntoString=z\n";
  const expected: [string, string][] = [["__proto__", "x"], ["constructor", "y"], ["toString", "z"]];

  test.each([
    ["parseDotenv", (t: string) => parseDotenv(t)],
    ["parseLegacyDotenv", (t: string) => parseLegacyDotenv(t)],
    ["parseSecretsText", (t: string) => parseSecretsText(`${SECRETS_FORMAT_LINE}\n${t}`)],
  ])("%s keeps __proto__, and a name it was not given is not there", (_, parse) => {
    const { values, problems } = parse(text);
    expect(problems).toEqual([]);
    expect(Object.entries(values)).toEqual(expected);
    const empty = parse("A=1\n").values;
    expect<unknown[]>(["constructor" in empty, "toString" in empty, empty.constructor, empty.hasOwnProperty]).toEqual([false, false, undefined, undefined]);
  });

  test("they survive formatDotenv and a second read", () => {
    const { values } = parseDotenv(text);
    expect(Object.entries(parseDotenv(formatDotenv(values)).values)).toEqual(expected);
  });
});
