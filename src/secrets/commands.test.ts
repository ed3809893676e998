import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { ConfigError, OperationError, UsageError } from "../errors.ts";
import { runSecretsCommand, type SecretsIO } from "./commands.ts";
import { loadSecrets } from "./store.ts";

let root: string;
let key: string;
let out: string[];
let err: string[];

const cfg = (secrets: ResolvedConfig["secrets"] = { store: "age" }) =>
  ({ app: "hello", env: "prod", root, secrets }) as ResolvedConfig;
const io = (extra: Partial<SecretsIO> = {}, environ: Record<string, string | undefined> = {}): SecretsIO => ({
  stdin: async () => {
    throw new Error("stdin must not be read here");
  },
  out: (l) => out.push(l),
  err: (l) => err.push(l),
  environ: { PATH: process.env.PATH, XDG_CONFIG_HOME: join(root, "config"), QDEPLOY_AGE_KEY: key, ...environ },
  ...extra,
});
const read = () => loadSecrets(cfg(), { environ: { QDEPLOY_AGE_KEY: key } });
const all = () => [...out, ...err].join("\n");

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "qdeploy-cmd-test-"));
  key = await generateIdentity();
  out = [];
  err = [];
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("secrets set", () => {
  test("a bare KEY takes the whole of stdin minus one trailing newline", async () => {
    const stdin = async () => "-----BEGIN KEY-----\nabc\n-----END KEY-----\n\n";
    expect(await runSecretsCommand(["set", "prod", "TLS_KEY", "A=x"], cfg(), io({ stdin }))).toBe(0);
    expect(await read()).toEqual({ TLS_KEY: "-----BEGIN KEY-----\nabc\n-----END KEY-----\n", A: "x" });
    expect(out).toEqual(["set TLS_KEY, A in prod (secrets/prod.env.age)"]);
    expect(all()).not.toContain("abc");
  });

  test("KEY=VALUE works but warns, on stderr, that the value is in argv and history, naming the safer form", async () => {
    expect(await runSecretsCommand(["set", "prod", "API_TOKEN=tok-123456", "EMPTY="], cfg(), io())).toBe(0);
    expect(await read()).toEqual({ API_TOKEN: "tok-123456", EMPTY: "" });
    expect(err).toContain(
      "warning: API_TOKEN: a value on the command line stays in your shell history and is visible in the process list; " +
        "prefer `qdeploy secrets set prod API_TOKEN`, which asks for it without echo on a terminal, or reads it from " +
        "standard input (`... API_TOKEN < file`)",
    );
    expect(out).toEqual(["set API_TOKEN, EMPTY in prod (secrets/prod.env.age)"]);
    expect(all()).not.toContain("tok-123456");
  });

  test("a bare KEY from stdin does not warn", async () => {
    await runSecretsCommand(["set", "prod", "API_TOKEN"], cfg(), io({ stdin: async () => "tok-123456\n" }));
    expect(await read()).toEqual({ API_TOKEN: "tok-123456" });
    expect(err.filter((l) => l.startsWith("warning:"))).toEqual([]);
  });

  const typing = (...answers: string[]) => {
    const prompts: string[] = [];
    return {
      prompts,
      promptHidden: async (p: string) => {
        prompts.push(p);
        return answers.shift() ?? "";
      },
    };
  };

  test("on a terminal a bare KEY is asked for twice at the hidden prompt, and stdin is not read", async () => {
    const t = typing("typed-value", "typed-value");
    expect(await runSecretsCommand(["set", "prod", "API_TOKEN"], cfg(), io({ promptHidden: t.promptHidden }))).toBe(0);
    expect(t.prompts).toEqual(["API_TOKEN for prod (typing is hidden; a multi-line value: pipe it in): ", "API_TOKEN again: "]);
    expect(await read()).toEqual({ API_TOKEN: "typed-value" });
    expect(all()).not.toContain("typed-value");
    await expect(runSecretsCommand(["set", "prod", "B"], cfg(), io({ promptHidden: async () => "" }))).rejects.toThrow(
      "no value typed for B",
    );
  });

  test("two different values typed: an error, and nothing is written", async () => {
    await runSecretsCommand(["set", "prod", "A=1"], cfg(), io());
    const before = await readFile(join(root, "secrets", "prod.env.age"));
    const t = typing("first-typed", "first-typo");
    const e = await runSecretsCommand(["set", "prod", "API_TOKEN"], cfg(), io({ promptHidden: t.promptHidden })).catch((x) => x);
    expect(e).toBeInstanceOf(OperationError);
    expect(e.message).toBe("the two values typed for API_TOKEN differ: nothing was changed in prod");
    expect(t.prompts).toHaveLength(2);
    expect(await readFile(join(root, "secrets", "prod.env.age"))).toEqual(before);
    expect(await read()).toEqual({ A: "1" });
  });

  test("a value no dotenv file can hold is refused, by name", async () => {
    const e = await runSecretsCommand(["set", "prod", "X"], cfg(), io({ stdin: async () => " padded, ending in \\" })).catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toStartWith("qdeploy secrets set: X: this value cannot be written in a dotenv file");
    expect(e.message).not.toContain("padded");
    expect(existsSync(join(root, "secrets"))).toBe(false);
  });

  test("--json: the names set and the file", async () => {
    const data: unknown[] = [];
    await runSecretsCommand(["set", "prod", "A=value-1"], cfg(), io({ data: (v) => data.push(v) }), { json: true });
    expect(data).toEqual([{ env: "prod", set: ["A"], file: "secrets/prod.env.age" }]);
    expect(out).toEqual([]);
  });

  test("an empty stdin for a bare KEY, or two bare KEYs, is bad usage", async () => {
    const stdin = async () => "\n";
    await expect(runSecretsCommand(["set", "prod", "A"], cfg(), io({ stdin }))).rejects.toThrow("no value for A on standard input");
    await expect(runSecretsCommand(["set", "prod", "A", "B"], cfg(), io())).rejects.toThrow("only one bare KEY");
  });

  test("names are checked, and a bad one is never echoed", async () => {
    const e = await runSecretsCommand(["set", "prod", "A=1", "hunter2-secret"], cfg(), io()).catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toContain("KEY argument 2: not a valid name");
    expect(e.message).not.toContain("hunter2");
    await expect(runSecretsCommand(["set", "prod", "PORT=80"], cfg(), io())).rejects.toThrow("PORT is set by qdeploy");
    await expect(runSecretsCommand(["set", "prod", "QDEPLOY_X=1"], cfg(), io())).rejects.toThrow("reserved");
    await expect(runSecretsCommand(["set", "prod", "A=1", "A=2"], cfg(), io())).rejects.toThrow("A is given twice");
    expect(existsSync(join(root, "secrets"))).toBe(false);
  });

  test("only for store age", async () => {
    const envCfg = cfg({ store: "env", names: ["A"] });
    for (const args of [["set", "prod", "A=1"], ["unset", "prod", "A"], ["edit", "prod"]]) {
      const e = await runSecretsCommand(args, envCfg, io()).catch((x) => x);
      expect(e).toBeInstanceOf(UsageError);
      expect(e.message).toStartWith('secrets for store "env" live in your environment, not in qdeploy');
    }
    await expect(runSecretsCommand(["set", "prod", "A=1"], cfg({ store: "command", command: ["x"] }), io())).rejects.toThrow(
      'secrets for store "command" live wherever secrets.command reads them from',
    );
  });

  test("first use creates the identity, says where, and prints the public key", async () => {
    const environ = { QDEPLOY_AGE_KEY: undefined };
    await runSecretsCommand(["set", "prod", "A=1"], cfg(), io({}, environ));
    const path = join(root, "config", "qdeploy", "age-identity.txt");
    const mine = (await readFile(path, "utf8")).trim().split("\n").at(-1)!;
    const pub = await identityToRecipient(mine);
    expect(err).toContain(`created your age identity at ${path} (private: keep it, back it up, never commit it)`);
    expect(err).toContain(`your public key is ${pub}`);
    expect(err).toContain(`created secrets/recipients.txt with your public key ${pub}; commit it with the secrets`);
    expect(await loadSecrets(cfg(), { identityFile: path })).toEqual({ A: "1" });
  });
});

describe("secrets list / unset", () => {
  test("list prints the names sorted, never the values", async () => {
    await runSecretsCommand(["set", "prod", "ZED=value-zed-1", "ALPHA=value-alpha-2", "MID=value-mid-3"], cfg(), io());
    out = [];
    err = [];
    expect(await runSecretsCommand(["list", "prod"], cfg(), io())).toBe(0);
    expect(out).toEqual(["ALPHA", "MID", "ZED"]);
    expect(all()).not.toContain("value-");
  });

  test("list --json: the names, never the values", async () => {
    await runSecretsCommand(["set", "prod", "ZED=value-zed-1", "ALPHA=value-alpha-2"], cfg(), io());
    out = [];
    const data: unknown[] = [];
    expect(await runSecretsCommand(["list", "prod"], cfg(), io({ data: (v) => data.push(v) }), { json: true })).toBe(0);
    expect(data).toEqual([{ env: "prod", store: "age", names: ["ALPHA", "ZED"] }]);
    expect(out).toEqual([]);
    expect(JSON.stringify(data)).not.toContain("value-");
    data.length = 0;
    await runSecretsCommand(["list", "prod"], cfg({ store: "env", names: ["B"] }), io({ data: (v) => data.push(v) }, { B: "vb-secret" }), { json: true });
    expect(data).toEqual([{ env: "prod", store: "env", names: ["B"] }]);
  });

  test("unset --json", async () => {
    await runSecretsCommand(["set", "prod", "A=1", "B=2"], cfg(), io());
    const data: unknown[] = [];
    await runSecretsCommand(["unset", "prod", "A", "C"], cfg(), io({ data: (v) => data.push(v) }), { json: true });
    expect(data).toEqual([{ env: "prod", unset: ["A"], absent: ["C"], file: "secrets/prod.env.age" }]);
  });

  test("list with no file yet says so", async () => {
    expect(await runSecretsCommand(["list", "prod"], cfg(), io())).toBe(0);
    expect(out).toEqual([]);
    expect(err[0]).toContain("prod has no secrets yet");
  });

  test("list works for the env store too", async () => {
    await runSecretsCommand(["list", "prod"], cfg({ store: "env", names: ["B", "A"] }), io({}, { A: "va-secret", B: "vb-secret" }));
    expect(out).toEqual(["A", "B"]);
    expect(all()).not.toContain("secret");
  });

  test("unset removes names and notes the ones that were not set", async () => {
    await runSecretsCommand(["set", "prod", "A=1", "B=2"], cfg(), io());
    out = [];
    expect(await runSecretsCommand(["unset", "prod", "A", "C"], cfg(), io())).toBe(0);
    expect(out).toEqual(["unset A in prod (secrets/prod.env.age)"]);
    expect(err).toContain("not set in prod, nothing to remove: C");
    expect(await read()).toEqual({ B: "2" });
  });

  test("bad usage", async () => {
    await expect(runSecretsCommand([], cfg(), io())).rejects.toThrow("missing a subcommand");
    await expect(runSecretsCommand(["nope"], cfg(), io())).rejects.toThrow('unknown subcommand "nope"');
    await expect(runSecretsCommand(["set", "prod"], cfg(), io())).rejects.toBeInstanceOf(UsageError);
    await expect(runSecretsCommand(["list"], cfg(), io())).rejects.toBeInstanceOf(UsageError);
    await expect(runSecretsCommand(["list", "staging"], cfg(), io())).rejects.toThrow('not "staging"');
  });
});

describe("secrets import", () => {
  const file = async (text: string) => {
    const p = join(root, "import.env");
    await writeFile(p, text);
    return p;
  };

  test("sets every key of a dotenv file over what is there, and prints the names", async () => {
    await runSecretsCommand(["set", "prod", "KEEP=kept", "B=old"], cfg(), io());
    out = [];
    const p = await file("# from the old host\nexport A=1\nB = 'two words' # comment\nPEM=\"line1\nline2\"\n");
    expect(await runSecretsCommand(["import", "prod", p], cfg(), io())).toBe(0);
    expect(await read()).toEqual({ KEEP: "kept", B: "two words", A: "1", PEM: "line1\nline2" });
    expect(out).toEqual(["set A, B, PEM in prod (secrets/prod.env.age)"]);
    expect(all()).not.toContain("two words");
  });

  test("- reads standard input; --json reports the names", async () => {
    const data: unknown[] = [];
    await runSecretsCommand(["set", "prod", "A=old"], cfg(), io());
    const r = await runSecretsCommand(["import", "prod", "-"], cfg(), io({ stdin: async () => "A=new\nC=3\n", data: (v) => data.push(v) }), { json: true });
    expect(r).toBe(0);
    expect(await read()).toEqual({ A: "new", C: "3" });
    expect(data).toEqual([{ env: "prod", set: ["A", "C"], added: ["C"], changed: ["A"], file: "secrets/prod.env.age" }]);
  });

  test("__proto__ and constructor are names like any other: imported, reported as added, read back", async () => {
    const data: unknown[] = [];
    const p = await file("__proto__=x\nconstructor=y\n");
    expect(await runSecretsCommand(["import", "prod", p], cfg(), io({ data: (v) => data.push(v) }), { json: true })).toBe(0);
    expect(data).toEqual([{ env: "prod", set: ["__proto__", "constructor"], added: ["__proto__", "constructor"], changed: [], file: "secrets/prod.env.age" }]);
    expect(Object.entries(await read())).toEqual([["__proto__", "x"], ["constructor", "y"]]);
    // A name never set is not there, whatever Object.prototype holds.
    expect(await runSecretsCommand(["unset", "prod", "toString"], cfg(), io())).toBe(0);
    expect(err).toContain("not set in prod, nothing to remove: toString");
  });

  test("every problem in the file is reported, by line, and nothing is written", async () => {
    await runSecretsCommand(["set", "prod", "A=1"], cfg(), io());
    const before = await readFile(join(root, "secrets", "prod.env.age"));
    const p = await file("B=fine\nhunter2-alone\nC='unclosed hunter2\nbad-name=hunter2\n");
    const e = await runSecretsCommand(["import", "prod", p], cfg(), io()).catch((x) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.problems.map((x: { line: number }) => x.line)).toEqual([2, 3, 4]);
    expect(e.message.split("\n")).toEqual([
      `${p}:2: expected KEY=VALUE`,
      `${p}:3: the value starts with ' but has no closing ' at the end of a line (or before a # comment); a value that starts with a quote must be quoted whole`,
      `${p}:4: not a valid name (letters, digits and _, not starting with a digit)`,
    ]);
    expect(e.hint).toBe(`nothing was set in prod: fix ${p} and import it again`);
    expect(e.message).not.toContain("hunter2");
    expect(await readFile(join(root, "secrets", "prod.env.age"))).toEqual(before);
  });

  test("bad usage: no file, a missing file, an empty one", async () => {
    await expect(runSecretsCommand(["import", "prod"], cfg(), io())).rejects.toThrow("needs ENV and FILE");
    await expect(runSecretsCommand(["import", "prod", join(root, "nope.env")], cfg(), io())).rejects.toThrow("(ENOENT)");
    await expect(runSecretsCommand(["import", "prod", await file("# only a comment\n")], cfg(), io())).rejects.toThrow(
      "has no KEY=VALUE lines: nothing was set in prod",
    );
    expect(existsSync(join(root, "secrets"))).toBe(false);
  });
});

describe("secrets edit", () => {
  // The "editor" takes the file as its last argument, records it, then runs BODY on it ($1).
  const editor = async (body: string) => {
    const script = join(root, "editor.sh");
    await writeFile(script, `#!/bin/sh\nset -e\nfor last; do :; done; set -- "$last"\necho "$1" > "${root}/edited-path"\nls -ld "$(dirname "$1")" "$1" > "${root}/edited-modes"\n${body}\n`);
    await chmod(script, 0o755);
    return { EDITOR: script, VISUAL: undefined };
  };
  const editedDir = async () => dirname((await readFile(join(root, "edited-path"), "utf8")).trim());

  test("appending a line adds it; the private temp dir is gone afterwards", async () => {
    await runSecretsCommand(["set", "prod", "A=old-value", "B=multi\nline"], cfg(), io());
    out = [];
    const environ = await editor(`printf 'NEW="x\\\\ny"\\n' >> "$1"`);
    expect(await runSecretsCommand(["edit", "prod"], cfg(), io({}, environ))).toBe(0);
    expect(await read()).toEqual({ A: "old-value", B: "multi\nline", NEW: "x\ny" });
    expect(out).toEqual(["added NEW in prod (secrets/prod.env.age)"]);
    const modes = await readFile(join(root, "edited-modes"), "utf8");
    expect(modes).toMatch(/^drwx------ .*\n-rw------- /); // dir 0700, file 0600
    expect(existsSync(await editedDir())).toBe(false);
  });

  test("the editor does not inherit QDEPLOY_AGE_KEY", async () => {
    const seen = join(root, "editor-env");
    const script = join(root, "env-editor.sh");
    await writeFile(script, `#!/bin/sh\necho "\${QDEPLOY_AGE_KEY:-none}" > ${seen}\n`);
    await chmod(script, 0o755);
    await runSecretsCommand(["edit", "prod"], cfg(), io({}, { EDITOR: script, VISUAL: undefined }));
    expect(await readFile(seen, "utf8")).toBe("none\n");
  });

  test("VISUAL wins, arguments in it are kept, and an untouched file changes nothing", async () => {
    await runSecretsCommand(["set", "prod", "A=1"], cfg(), io());
    out = [];
    const env = await editor("true");
    const before = await readFile(join(root, "secrets", "prod.env.age"));
    await runSecretsCommand(["edit", "prod"], cfg(), io({}, { EDITOR: "false", VISUAL: `${env.EDITOR} --wait` }));
    expect(out).toEqual(["no changes to prod's secrets"]);
    expect(await readFile(join(root, "secrets", "prod.env.age"))).toEqual(before);
  });

  test("changed and removed names are reported by name", async () => {
    await runSecretsCommand(["set", "prod", "A=1", "B=2"], cfg(), io());
    out = [];
    await runSecretsCommand(["edit", "prod"], cfg(), io({}, await editor(`printf 'A=changed\\n' > "$1"`)));
    expect(out).toEqual(["changed A; removed B in prod (secrets/prod.env.age)"]);
    expect(await read()).toEqual({ A: "changed" });
  });

  // An editor whose Nth run does what `run N` says; it keeps each run's file as shown-N.
  const rounds = async (...runs: string[]) => {
    const cases = runs.map((body, i) => `  ${i + 1}) ${body || "true"} ;;`).join("\n");
    return editor(
      `n=$(( $(cat "${root}/runs" 2>/dev/null || echo 0) + 1 )); echo $n > "${root}/runs"\n` +
        `cp "$1" "${root}/shown-$n"\ncase $n in\n${cases}\n  *) exit 9 ;;\nesac`,
    );
  };
  const shown = (n: number) => readFile(join(root, `shown-${n}`), "utf8");
  const runs = async () => Number((await readFile(join(root, "runs"), "utf8")).trim());

  test("a mistake reopens the editor on the same text with the problems on top; fixing it saves", async () => {
    await runSecretsCommand(["set", "prod", "A=1"], cfg(), io());
    err = [];
    out = [];
    const environ = await rounds(
      `printf 'oops-secret-value\\nmy-key=hunter2\\nB=2\\n' >> "$1"`,
      `sed -i -e '/^oops-secret-value$/d' -e 's/^my-key=/MY_KEY=/' "$1"`,
    );
    expect(await runSecretsCommand(["edit", "prod"], cfg(), io({}, environ))).toBe(0);
    expect(await runs()).toBe(2);
    expect(await read()).toEqual({ A: "1", MY_KEY: "hunter2", B: "2" });
    expect(out).toEqual(["added MY_KEY, B in prod (secrets/prod.env.age)"]);

    // The reopened file: the problems, numbered as its own lines, then the first run's text unchanged.
    const first = await shown(1);
    const second = (await shown(2)).split("\n");
    expect(second[0]).toBe("# qdeploy: NOTHING IS SAVED YET. Fix these problems, then save and quit (quit without saving to give up):");
    const oops = second.indexOf("oops-secret-value") + 1;
    expect(second.slice(1, 4)).toEqual([
      `#   line ${oops}: expected KEY=VALUE`,
      `#   line ${oops + 1}: not a valid name (letters, digits and _, not starting with a digit)`,
      "# (end of problems)",
    ]);
    expect(second.slice(4).join("\n")).toBe(`${first}oops-secret-value\nmy-key=hunter2\nB=2\n`);
    // Said on stderr too, by line number only.
    expect(err.join("\n")).toContain("2 problems in the edit (line ");
    expect(err.join("\n")).toContain("opening the editor again; quit it without saving to give up");
    expect(err.join("\n")).not.toContain("hunter2");
    expect(err.join("\n")).not.toContain("oops");
    expect(existsSync(await editedDir())).toBe(false);
  });

  test("a reopened editor left without changes gives up: nothing saved, and it says so", async () => {
    await runSecretsCommand(["set", "prod", "A=1"], cfg(), io());
    const before = await readFile(join(root, "secrets", "prod.env.age"));
    const environ = await rounds(`echo "oops-secret" >> "$1"`, "");
    const e = await runSecretsCommand(["edit", "prod"], cfg(), io({}, environ)).catch((x) => x);
    expect(e).toBeInstanceOf(OperationError);
    expect(e.message).toMatch(
      /^nothing was saved to prod's secrets: the editor was left without changes, with 1 problem still in it \(line \d+: expected KEY=VALUE\)$/,
    );
    expect(e.message).not.toContain("oops");
    expect(await runs()).toBe(2);
    expect(await readFile(join(root, "secrets", "prod.env.age"))).toEqual(before);
    expect(existsSync(await editedDir())).toBe(false);
  });

  test("a second mistake reopens again, with the new problems only", async () => {
    const environ = await rounds(`echo "bad one" >> "$1"`, `sed -i 's/^bad one$/A=fixed/' "$1"; echo "A=again" >> "$1"`, `sed -i '/^A=again$/d' "$1"`);
    expect(await runSecretsCommand(["edit", "prod"], cfg(), io({}, environ))).toBe(0);
    expect(await runs()).toBe(3);
    const third = await shown(3);
    expect(third.match(/^# {3}line .*$/gm)).toEqual([expect.stringMatching(/^# {3}line \d+: A is set again \(first on line \d+\)$/)]);
    // "first on line N" points at the right line of the file shown.
    const [, dup, firstAt] = third.match(/line (\d+): A is set again \(first on line (\d+)\)/)!;
    const lines = third.split("\n");
    expect(lines[Number(firstAt) - 1]).toBe("A=fixed");
    expect(lines[Number(dup) - 1]).toBe("A=again");
    expect(await read()).toEqual({ A: "fixed" });
  });

  test("a failing editor changes nothing and removes the temp dir", async () => {
    await runSecretsCommand(["set", "prod", "A=1"], cfg(), io());
    const e = await runSecretsCommand(["edit", "prod"], cfg(), io({}, await editor(`echo B=2 >> "$1"; exit 4`))).catch((x) => x);
    expect(e).toBeInstanceOf(OperationError);
    expect(e.message).toContain("exited with 4: nothing was changed in prod");
    expect(await read()).toEqual({ A: "1" });
    expect(existsSync(await editedDir())).toBe(false);
  });

  test("SIGTERM while the editor runs removes the temp dir", async () => {
    await runSecretsCommand(["set", "prod", "A=1"], cfg(), io());
    const environ = await editor("exec sleep 30");
    const runner = join(root, "runner.ts");
    await writeFile(
      runner,
      `import { runSecretsCommand } from ${JSON.stringify(join(import.meta.dir, "commands.ts"))};\n` +
        `await runSecretsCommand(["edit", "prod"], ${JSON.stringify(cfg())}, ` +
        `{ stdin: async () => "", out: () => {}, err: () => {}, environ: ${JSON.stringify(io({}, environ).environ)} });\n`,
    );
    const proc = Bun.spawn([process.execPath, runner], { stdio: ["ignore", "ignore", "ignore"] });
    const pathFile = join(root, "edited-path");
    for (let i = 0; i < 100 && !existsSync(pathFile); i++) await Bun.sleep(50);
    const dir = await editedDir();
    expect(existsSync(dir)).toBe(true);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(143);
    expect(existsSync(dir)).toBe(false);
    expect(await read()).toEqual({ A: "1" });
  });

  test("edit creates the store when there is none", async () => {
    await runSecretsCommand(["edit", "prod"], cfg(), io({}, await editor(`echo A=first >> "$1"`)));
    expect(await read()).toEqual({ A: "first" });
    expect((await stat(join(root, "secrets", "recipients.txt"))).isFile()).toBe(true);
  });
});
