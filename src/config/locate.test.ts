import { expect, test } from "bun:test";
import { formatPath, lineOf, locateKeys } from "./locate.ts";

const TEXT = [
  'app = "hello"', // 1
  "# a comment with [brackets] and key = value", // 2
  "[build]", // 3
  'stamp = { symbol = "main.version", value = "{git.sha}" }', // 4
  'ldflags = """', // 5
  "-s", // 6
  '-w"""', // 7
  "tags = [", // 8
  '  "a",   # first', // 9
  "  'b',", // 10
  "]", // 11
  "[[jobs]]", // 12
  'name = "one"', // 13
  "[[jobs]]", // 14
  'name = "two"', // 15
  "[jobs.extra]", // 16
  "x = 1", // 17
  "[environments.prod]", // 18
  'hosts = ["a@b", "c@d"]', // 19
  'web = { domains = ["x"], tls = "internal" }', // 20
  "env.\"MY VAR\" = 'v'", // 21
  "[environments . 'sand box']", // 22
  "when = 1979-05-27 07:32:00Z", // 23
  "after = 2", // 24
].join("\n");

test("each key path maps to the line that defines it", () => {
  const lines = locateKeys(TEXT);
  const want: Record<string, number> = {
    app: 1,
    build: 3,
    "build.stamp": 4,
    "build.stamp.value": 4,
    "build.ldflags": 5,
    "build.tags": 8,
    "build.tags[0]": 9,
    "build.tags[1]": 10,
    jobs: 12,
    "jobs[0]": 12,
    "jobs[0].name": 13,
    "jobs[1]": 14,
    "jobs[1].name": 15,
    "jobs[1].extra": 16,
    "jobs[1].extra.x": 17,
    environments: 18,
    "environments.prod.hosts[1]": 19,
    "environments.prod.web": 20,
    "environments.prod.web.domains[0]": 20,
    "environments.prod.web.tls": 20,
    'environments.prod.env."MY VAR"': 21,
    'environments."sand box"': 22,
    'environments."sand box".when': 23,
    'environments."sand box".after': 24,
  };
  expect(Object.fromEntries(Object.keys(want).map((k) => [k, lines.get(k)]))).toEqual(want);
});

test("a key not written falls back to its nearest table", () => {
  const lines = locateKeys(TEXT);
  expect(lineOf(lines, ["environments", "prod", "web", "health"])).toBe(20);
  expect(lineOf(lines, ["jobs", 1, "at"])).toBe(14);
  expect(lineOf(lines, ["restart", "at"])).toBeUndefined();
});

test("formatPath quotes keys that are not bare", () => {
  expect(formatPath(["jobs", 0, "name"])).toBe("jobs[0].name");
  expect(formatPath(["env", "MY VAR"])).toBe('env."MY VAR"');
});
