import { expect, test } from "bun:test";
import { COMMANDS } from "./commands.ts";
import { commandHelp, commandsTable, globalHelp, helpFor } from "./help.ts";

// That docs/commands.md holds this table as it is now: test/docs.test.ts.
test("the docs' Commands table has a row for every listed command", () => {
  for (const c of COMMANDS.filter((c) => !c.hidden)) expect(commandsTable()).toContain(`| \`qdeploy ${c.name}`);
});

test("every listed command has a summary, examples that run it, and its flags in its help", () => {
  for (const c of COMMANDS.filter((c) => !c.hidden && c.name !== "completion")) {
    expect(c.summary.length).toBeGreaterThan(10);
    expect(c.examples.length).toBeGreaterThan(0);
    for (const e of c.examples) expect(e).toContain(`qdeploy ${c.name}`);
    const help = commandHelp(c);
    for (const f of c.flags) expect(help).toContain(`--${f.name}`);
    expect(globalHelp()).toMatch(new RegExp(`^  ${c.name} `, "m"));
  }
});

test("help push is push --help; help for a group lists its commands; a typo is a usage error", () => {
  expect(helpFor(["push"])).toBe(commandHelp(COMMANDS.find((c) => c.name === "push")!));
  expect(helpFor(["push"])).toStartWith("usage: qdeploy push ENV [OPTIONS]\n");
  expect(helpFor(["exec"])).toStartWith("usage: qdeploy exec ENV -- COMMAND... [OPTIONS]\n");
  const group = helpFor(["secrets", "recipients"]);
  expect(group.split("\n").filter((l) => l.startsWith("  secrets recipients "))).toHaveLength(3);
  expect(() => helpFor(["pussh"])).toThrow('unknown command "pussh" (did you mean push?; see qdeploy --help)');
});
