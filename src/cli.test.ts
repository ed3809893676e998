import { expect, test } from "bun:test";
import { main, parseArgs } from "./cli.ts";
import { createOutput } from "./output.ts";

test("setup's --bootstrap flags parse: a switch and two values", () => {
  const a = parseArgs(["setup", "prod", "--bootstrap", "--bootstrap-user", "admin", "--key=~/.ssh/me.pub"]);
  expect(a.positionals).toEqual(["setup", "prod"]);
  expect([...a.flags]).toEqual([["--bootstrap", true], ["--bootstrap-user", "admin"], ["--key", "~/.ssh/me.pub"]]);
});

test("--bootstrap-user or --key without --bootstrap is bad usage (exit 2), before any config is read", async () => {
  const lines: string[] = [];
  const out = { ...createOutput({}), error: (l: string) => lines.push(l) };
  expect(await main(["setup", "prod", "--bootstrap-user", "admin", "--config", "/nonexistent/deploy.toml"], out)).toBe(2);
  expect(lines).toEqual(["--bootstrap-user and --key go with --bootstrap"]);
});
