import { expect, test } from "bun:test";
import { formatProblem } from "../errors.ts";
import { parseProcfile } from "./procfile.ts";

test("names and commands, comments and blank lines skipped", () => {
  const text = "# the app\nweb: hello serve --port $PORT\n\n  worker:hello work  \r\nrelease: ./hello migrate: up\n";
  expect(parseProcfile(text)).toEqual({
    processes: { web: "hello serve --port $PORT", worker: "hello work", release: "./hello migrate: up" },
    lines: { web: 2, worker: 4, release: 5 },
    problems: [],
  });
});

test("bad lines are problems with their line; the good ones still count", () => {
  const text = ["web: hello serve", "worker hello work", "Clock: hello clock", "cron:", "web: other", "ok_1: x"].join("\n");
  const { processes, problems } = parseProcfile(text, "app/Procfile");
  expect(processes).toEqual({ web: "hello serve", ok_1: "x" });
  expect(problems.map(formatProblem)).toEqual([
    'app/Procfile:2: expected "name: command", got "worker hello work"',
    "app/Procfile:3 Clock: bad process name; use lowercase letters, digits, - and _, starting with a letter",
    "app/Procfile:4 cron: empty command",
    "app/Procfile:5 web: defined twice (first on line 1)",
  ]);
});

test("an empty Procfile declares nothing", () => {
  expect(parseProcfile("\n# nothing\n")).toEqual({ processes: {}, lines: {}, problems: [] });
});
