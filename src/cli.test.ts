import { expect, test } from "bun:test";
import { main } from "./cli.ts";
import { parseCommandLine } from "./cli/parse.ts";
import { createOutput } from "./output.ts";

test("setup's --bootstrap flags parse: a switch and two values", () => {
  const p = parseCommandLine(["setup", "prod", "--bootstrap", "--bootstrap-user", "admin", "--key=~/.ssh/me.pub"]);
  expect(p.kind).toBe("run");
  if (p.kind !== "run") return;
  expect(p.command.name).toBe("setup");
  expect(p.inv).toEqual({ args: ["prod"], flags: { bootstrap: true, "bootstrap-user": "admin", key: "~/.ssh/me.pub" }, rest: [] });
});

test("--bootstrap-user or --key without --bootstrap is bad usage (exit 2), before any config is read", async () => {
  const lines: string[] = [];
  const out = { ...createOutput({}), error: (l: string) => lines.push(l) };
  expect(await main(["setup", "prod", "--bootstrap-user", "admin", "--config", "/nonexistent/deploy.toml"], out)).toBe(2);
  expect(lines).toEqual(["--bootstrap-user and --key go with --bootstrap"]);
});
