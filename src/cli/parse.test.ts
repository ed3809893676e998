import { describe, expect, test } from "bun:test";
import { UsageError } from "../errors.ts";
import { COMMANDS } from "./commands.ts";
import { allFlags, parseCommandLine } from "./parse.ts";
import { arity, GLOBAL_FLAGS } from "./spec.ts";
import { suggest } from "./suggest.ts";

function run(argv: string[]) {
  const p = parseCommandLine(argv);
  if (p.kind !== "run") throw new Error(`not a run: ${p.kind}`);
  return { command: p.command.name, ...p.inv, globals: p.globals };
}

function usageError(argv: string[]): string {
  try {
    parseCommandLine(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`no error for ${argv.join(" ")}`);
}

describe("the command line against the table", () => {
  test.each([
    [["push", "prod"], "push", ["prod"], {}, []],
    [["push", "prod", "--hosts=a,b", "--lock-wait", "0", "--no-revert"], "push", ["prod"], { hosts: "a,b", "lock-wait": 0, "no-revert": true }, []],
    [["logs", "prod", "web", "-fn", "5"], "logs", ["prod", "web"], { follow: true, lines: 5 }, []],
    [["rollback", "prod", "20261202100000"], "rollback", ["prod", "20261202100000"], {}, []],
    [["exec", "prod", "--host", "2", "--", "ls", "-la", "--json"], "exec", ["prod"], { host: 2 }, ["ls", "-la", "--json"]],
    [["exec", "prod", "env"], "exec", ["prod"], {}, ["env"]],
    [["secrets", "set", "prod", "A=1", "B"], "secrets set", ["prod", "A=1", "B"], {}, []],
    [["secrets", "recipients", "list"], "secrets recipients list", [], {}, []],
    [["secrets", "import", "prod", "-", "--identity", "k.txt"], "secrets import", ["prod", "-"], { identity: "k.txt" }, []],
    [["serve", "token", "add", "ci", "--role", "deploy"], "serve token add", ["ci"], { role: "deploy" }, []],
    [["sandbox", "up", "--hosts", "3"], "sandbox up", [], { hosts: "3" }, []],
    [["sandbox", "ssh", "2"], "sandbox ssh", ["2"], {}, []],
    [["--json", "lock", "status", "prod"], "lock status", ["prod"], {}, []],
    [["help", "secrets", "set"], "help", ["secrets", "set"], {}, []],
  ] as const)("%j", (argv, command, args, flags, rest) => {
    const r = run([...argv]);
    expect(r.command).toBe(command);
    expect(r.args).toEqual([...args]);
    expect(r.flags).toEqual(flags);
    expect(r.rest).toEqual([...rest]);
  });

  test("global flags anywhere", () => {
    expect(run(["-q", "push", "prod", "--config", "x.toml", "--json", "-v", "--no-color"]).globals).toEqual({ config: "x.toml", json: true, quiet: true, verbose: true, noColor: true });
  });

  test("help and version before anything else", () => {
    expect(parseCommandLine(["push", "--help"])).toMatchObject({ kind: "help", words: ["push"] });
    expect(parseCommandLine(["secrets", "-h"])).toMatchObject({ kind: "help", words: ["secrets"] });
    expect(parseCommandLine(["--help"])).toMatchObject({ kind: "help", words: [] });
    expect(parseCommandLine(["--version"])).toMatchObject({ kind: "version" });
    // --help wins over a mistake elsewhere on the line
    expect(parseCommandLine(["push", "--bogus", "--help"])).toMatchObject({ kind: "help", words: ["push"] });
  });

  test.each([
    [["pus", "prod"], 'unknown command "pus" (did you mean push?; see qdeploy --help)'],
    [["frobnicate"], 'unknown command "frobnicate" (see qdeploy --help)'],
    [["secrets", "lst", "prod"], 'unknown command "secrets lst" (did you mean list?; see qdeploy help secrets)'],
    [["secrets"], '"secrets" needs a subcommand: set, unset, list, edit, import, recipients (see qdeploy help secrets)'],
    [["serve", "tokn", "list"], 'unknown command "serve tokn" (did you mean token?; see qdeploy help serve)'],
    [["push"], "push: ENV is missing (usage: qdeploy push ENV)"],
    [["push", "prod", "extra"], 'push: unexpected argument "extra" (usage: qdeploy push ENV)'],
    [["lock", "status"], "lock status: ENV is missing (usage: qdeploy lock status ENV)"],
    [["secrets", "unset", "prod"], "secrets unset: KEY... is missing (usage: qdeploy secrets unset ENV KEY...)"],
    // What `qdeploy secrets` checked with a parser of its own before its commands were rows of the table.
    [["secrets", "nope"], 'unknown command "secrets nope" (see qdeploy help secrets)'],
    [["secrets", "set", "prod"], "secrets set: KEY[=VALUE]... is missing (usage: qdeploy secrets set ENV KEY[=VALUE]...)"],
    [["secrets", "list"], "secrets list: ENV is missing (usage: qdeploy secrets list ENV)"],
    [["secrets", "edit", "prod", "staging"], 'secrets edit: unexpected argument "staging" (usage: qdeploy secrets edit ENV)'],
    [["secrets", "import", "prod"], "secrets import: FILE is missing (usage: qdeploy secrets import ENV FILE)"],
    [["secrets", "recipients"], '"secrets recipients" needs a subcommand: list, add, remove (see qdeploy help secrets recipients)'],
    [["secrets", "recipients", "list", "age1x"], 'secrets recipients list: unexpected argument "age1x" (usage: qdeploy secrets recipients list)'],
    [["secrets", "recipients", "add"], "secrets recipients add: RECIPIENT... is missing (usage: qdeploy secrets recipients add RECIPIENT...)"],
    [["logs", "prod", "-n", "abc"], '--lines must be a whole number of at least 1, not "abc"'],
    [["logs", "prod", "-n", "0"], '--lines must be a whole number of at least 1, not "0"'],
    [["push", "prod", "--lock-wait", "x"], '--lock-wait must be a whole number, not "x"'],
    [["exec", "prod", "--host", "1.5", "--", "ls"], '--host must be a whole number of at least 1, not "1.5"'],
    [["sandbox", "down", "--hosts", "2"], 'unknown option --hosts for "sandbox down" (it goes with push, rollback, promote; see qdeploy help sandbox down)'],
    [["serve", "token", "add", "ci", "--role", "reed"], '--role must be read or deploy, not "reed" (did you mean read?)'],
    [["push", "prod", "--hots", "a"], 'unknown option --hots for "push" (did you mean --hosts?; see qdeploy help push)'],
    [["status", "prod", "--follow"], 'unknown option --follow for "status" (it goes with logs; see qdeploy help status)'],
    [["push", "prod", "--lock-wait"], "--lock-wait needs a value (SECS) (see qdeploy help push; a value starting with - goes as --lock-wait=VALUE)"],
    [["push", "prod", "--json=yes"], "--json takes no value (see qdeploy help push)"],
    [[], "a command is missing (see qdeploy --help)"],
  ] as const)("%j is bad usage", (argv, message) => {
    expect(usageError([...argv])).toBe(message);
  });
});

test("a flag name means one kind of value in every command (the lenient first pass needs it)", () => {
  const kinds = new Map<string, Set<string>>();
  for (const f of [...GLOBAL_FLAGS, ...COMMANDS.flatMap((c) => c.flags)]) {
    kinds.set(f.name, (kinds.get(f.name) ?? new Set()).add(f.type === "bool" ? "bool" : "value"));
    if (f.short) kinds.set(`-${f.short}`, (kinds.get(`-${f.short}`) ?? new Set()).add(f.name));
  }
  expect([...kinds].filter(([, k]) => k.size > 1)).toEqual([]);
  expect(allFlags().length).toBe(new Set(allFlags().map((f) => f.name)).size);
});

test("command names are unique and every usage reads", () => {
  expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
  expect(arity("ENV [RELEASE]")).toEqual({ min: 1, max: 2 });
  expect(arity("ENV KEY...")).toEqual({ min: 2, max: Infinity });
  expect(arity("[WORD...]")).toEqual({ min: 0, max: Infinity });
  expect(arity("")).toEqual({ min: 0, max: 0 });
});

test("suggestions: close words and prefixes, not anything", () => {
  expect(suggest("pus", ["push", "plan", "status"])).toEqual(["push"]);
  expect(suggest("rolback", ["rollback", "releases"])).toEqual(["rollback"]);
  expect(suggest("stauts", ["status", "setup"])).toEqual(["status"]);
  expect(suggest("frobnicate", ["push", "plan", "status"])).toEqual([]);
});
