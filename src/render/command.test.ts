import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTool } from "../../test/tools.ts";
import { quote } from "../util/quote.ts";
import { checkCommand, splitShellCommands, termTrapNeeded } from "./command.ts";

describe("check: the first word of every command names a program", () => {
  const files = new Set(["scripts/run.sh", "bin/tool", "migrations/001.sql"]);
  // [command, binaries (null: unknown), the app's files (null: unknown), the error or null]
  const notBinary = (w: string, use = '"app" (or "bin/app")') =>
    `"${w}" is not a binary of the release; use ${use}, a file of the app (./PATH), an absolute path, or a command on systemd's PATH`;
  const rows: [string, string[] | null, ReadonlySet<string> | null, string | null][] = [
    ["app", ["app"], null, null],
    ["bin/app", ["app"], null, null],
    ["./bin/app", ["app"], null, null],
    ["/usr/bin/env app", ["app"], null, null],
    ["sleep 1", ["app"], null, null],
    ["bin/web", ["app"], null, notBinary("bin/web")],
    ["./bin/web", ["app"], null, notBinary("./bin/web")],
    ["./bin/web", null, null, null], // the programs unknown: any bin/NAME
    ["./scripts/run.sh", ["app"], null, null], // the files unknown: any relative path outside bin/
    ["./scripts/run.sh", ["app"], files, null],
    ["scripts/run.sh", ["app"], files, null],
    ["bin/tool", ["app"], files, null], // a committed bin/ file
    ["./scripts/gone.sh", ["app"], files, notBinary("./scripts/gone.sh")],
    ["migrations", ["app"], files, null], // a bare word is a command on PATH
    ["$BIN", ["app"], null, 'the program "${BIN}" cannot come from a variable; name the binary'],
    ["-app", ["app"], null, 'a command may not start with "-" (systemd reads it as an ExecStart= prefix)'],
    ["", ["app"], null, "the command is empty"],
    ["app\0 x", ["app"], null, "a command cannot contain a NUL byte"],
    ["app 'x", ["app"], null, "unterminated ' in \"app 'x\""],
    // Shell lines: each command's first word, after assignments, export, exec and other builtins.
    ["WEB_SERVER_PORT=$PORT bin/app", ["app"], null, null],
    ["WEB_SERVER_PORT=$PORT bin/web", ["app"], null, notBinary("bin/web")],
    ["export WORKER='true' && app", ["app"], null, null],
    ["export WORKER='true' && bin/nope", ["app"], null, notBinary("bin/nope")],
    ["app migrate && ./scripts/run.sh; bin/tool | tee /tmp/log", ["app"], files, null],
    ["app || ./scripts/gone.sh", ["app"], files, notBinary("./scripts/gone.sh")],
    ["exec -a web ./bin/app >>/tmp/log 2>&1", ["app"], null, null],
    ["exec ./bin/web", ["app"], null, notBinary("./bin/web")],
    ["cd scripts && ./elsewhere.sh", ["app"], files, null], // after a cd, relative paths are not judged
    ["X=1 Y=2", ["app"], null, null],
    ["ulimit -n 4096 && app", ["app"], null, null],
    ["if test -f x; then app; else bin/nope; fi", ["app"], null, notBinary("bin/nope")],
    ["app 'a && b' \"; bin/nope\"", ["app"], null, null], // operators in quotes are words
    ["app $(bin/nope)", ["app"], null, null], // a substitution's inside is not judged
    ["app && $NEXT", ["app"], null, 'the program "$NEXT" cannot come from a variable; name the binary'],
    ["app && `which x`", ["app"], null, 'the program "`which x`" cannot come from a variable; name the binary'],
    ["app && 'x", ["app"], null, "unterminated ' in \"app && 'x\""],
    ["app && echo \"x", ["app"], null, 'unterminated " in "app && echo \\"x"'],
    ["app $(date", ["app"], null, 'unterminated $( in "app $(date"'],
    ["app ${X:-1", ["app"], null, 'unterminated ${ in "app ${X:-1"'],
  ];
  for (const [command, binaries, appFiles, error] of rows) {
    test(`${JSON.stringify(command)} ${appFiles ? "with the app's files" : ""}`, () => {
      const run = () => checkCommand(command, binaries, "", appFiles);
      if (error === null) expect(run).not.toThrow();
      else expect(run).toThrow(error);
    });
  }
  test("an error names where the command is written", () => {
    expect(() => checkCommand("app && bin/nope", ["app"], "processes.web")).toThrow(`processes.web: ${notBinary("bin/nope")}`);
  });
});

describe("splitShellCommands", () => {
  // [line, its commands: [words (the value, or <as written> when it expands), the operator after it, redirects]]
  const rows: [string, [string[], string, boolean][]][] = [
    ["a b", [[["a", "b"], "", false]]],
    [
      "a && b || c; d | e |& f & g",
      [[["a"], "&&", false], [["b"], "||", false], [["c"], ";", false], [["d"], "|", false], [["e"], "|&", false], [["f"], "&", false], [["g"], "", false]],
    ],
    ["X=1 a 'b c' \"d $E\" f\\ g", [[["X=1", "a", "b c", '<"d $E">', "f g"], "", false]]],
    ["a >out 2>&1 <in &>all >>log b", [[["a", "b"], "", true]]],
    ["a 'x;y' \"p|q\" r\\&s", [[["a", "x;y", "p|q", "r&s"], "", false]]],
    ["a $(b; c) `d | e` ${F:-g h} <(i)", [[["a", "<$(b; c)>", "<`d | e`>", "<${F:-g h}>", "<<(i)>"], "", false]]],
    ["(cd x && a) # a comment; b", [[["cd", "x"], "&&", false], [["a"], ")", false]]],
    ["a\nb", [[["a"], "\n", false], [["b"], "", false]]],
    ["a $ b$", [[["a", "$", "b$"], "", false]]],
  ];
  for (const [line, want] of rows) {
    test(JSON.stringify(line), () => {
      expect(splitShellCommands(line).map((c) => [c.words.map((w) => w.literal ?? `<${w.raw}>`), c.next, c.redirects])).toEqual(want);
    });
  }
});

describe("termTrapNeeded: bash would stay alive while a program of the line runs", () => {
  // [line, trap needed, why it may be needed although bash ends by exec'ing the last command]
  const rows: [string, boolean, string?][] = [
    ["app", false],
    ["export WORKER='true' && app", false],
    ["WEB_SERVER_PORT=$PORT app", false],
    ["true; app", false],
    ["false || app", false],
    ["true && X=1 app", false],
    ["app;", false],
    ["true; app # done", false],
    ["exec app >/dev/null", false],
    ["X=1 exec app 2>&1", false],
    ["cd bin && ulimit -n 1024 && ../app", false],
    ["app | cat", true],
    ["app >/dev/null 2>&1", true],
    ["app && true", true],
    ["app || true", true],
    ["X=1; true && app", true],
    ["true && time app", true],
    ["app & wait", true],
    ["(app)", true],
    ["if true; then app; fi", true],
    ["export X=1", true],
    ["bin/migrate up && bin/seed", true, "bin/migrate runs under bash"],
    ["true | true; app", true, "a pipeline"],
  ];
  for (const [line, trap] of rows) {
    test(`${JSON.stringify(line)}: ${trap ? "trap" : "no trap"}`, () => expect(termTrapNeeded(splitShellCommands(line))).toBe(trap));
  }

  test("without the trap, bash has replaced itself with the app; with it (but where noted), bash runs it as a child", () => {
    const bash = requireTool("bash");
    const dir = mkdtempSync(join(tmpdir(), "qdeploy-bash-exec-"));
    try {
      // app and bin/seed replace themselves with `sleep 5`: is bash's own pid running it?
      mkdirSync(join(dir, "bin"));
      for (const [file, body] of [["app", "exec sleep 5"], ["bin/seed", "exec sleep 5"], ["bin/migrate", "exit 0"]] as const) {
        writeFileSync(join(dir, file), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      }
      const execs = (line: string) => {
        // Its output elsewhere: a grandchild left running must not hold this pipe open.
        const probe = `${quote(bash)} -c ${quote(line)} >/dev/null 2>&1 </dev/null & p=$!; sleep 0.15; tr '\\0' ' ' < /proc/$p/cmdline; pkill -9 -P $p; kill -9 $p; exit 0`;
        const r = Bun.spawnSync([bash, "-c", probe], { cwd: dir, env: { PATH: `${dir}:/usr/bin:/bin` }, stdout: "pipe", stderr: "pipe" });
        return r.stdout.toString().startsWith("sleep 5");
      };
      const got = rows.filter(([, , note]) => note === undefined).map(([line]) => [line, !execs(line)]);
      expect(got).toEqual(rows.filter(([, , note]) => note === undefined).map(([line, trap]) => [line, trap]));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
