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

  test("on a terminal a bare KEY is asked for at the hidden prompt, and stdin is not read", async () => {
    const prompts: string[] = [];
    const promptHidden = async (p: string) => {
      prompts.push(p);
      return "typed-value";
    };
    expect(await runSecretsCommand(["set", "prod", "API_TOKEN"], cfg(), io({ promptHidden }))).toBe(0);
    expect(prompts).toEqual(["API_TOKEN for prod (typing is hidden; a multi-line value: pipe it in): "]);
    expect(await read()).toEqual({ API_TOKEN: "typed-value" });
    await expect(runSecretsCommand(["set", "prod", "B"], cfg(), io({ promptHidden: async () => "" }))).rejects.toThrow(
      "no value typed for B",
    );
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

  test("an invalid result saves nothing, names the line, and still removes the temp dir", async () => {
    await runSecretsCommand(["set", "prod", "A=1"], cfg(), io());
    const e = await runSecretsCommand(["edit", "prod"], cfg(), io({}, await editor(`echo "oops-secret" >> "$1"`))).catch((x) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toMatch(/^prod secrets \(your edit; nothing was saved\):\d+: expected KEY=VALUE$/);
    expect(e.message).not.toContain("oops");
    expect(await read()).toEqual({ A: "1" });
    expect(existsSync(await editedDir())).toBe(false);
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
