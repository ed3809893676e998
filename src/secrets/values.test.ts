import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { ConfigError, OperationError, UsageError } from "../errors.ts";
import type { SecretsConfigSource, SecretsIO } from "./operation.ts";
import { loadSecrets } from "./store.ts";
import { importSecrets, listSecrets, parseAssignment, setSecrets, unsetSecrets } from "./values.ts";

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
/** `secrets set prod ARGS...` */
const set = (args: string[], i: SecretsIO = io(), source: SecretsConfigSource = cfg()) => setSecrets(i, source, "prod", args.map(parseAssignment));
const read = () => loadSecrets(cfg(), { environ: { QDEPLOY_AGE_KEY: key } });
/** Everything an operation said, and the results it returned. */
const all = (...results: unknown[]) => [...out, ...err, ...results.map((r) => JSON.stringify(r))].join("\n");
const at = "secrets/prod.env.age";

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
    const r = await set(["TLS_KEY", "A=x"], io({ stdin }));
    expect(await read()).toEqual({ TLS_KEY: "-----BEGIN KEY-----\nabc\n-----END KEY-----\n", A: "x" });
    expect(r).toEqual({ env: "prod", set: ["TLS_KEY", "A"], file: at });
    expect(all(r)).not.toContain("abc");
  });

  test("KEY=VALUE works but warns, on stderr, that the value is in argv and history, naming the safer form", async () => {
    const r = await set(["API_TOKEN=tok-123456", "EMPTY="]);
    expect(await read()).toEqual({ API_TOKEN: "tok-123456", EMPTY: "" });
    expect(err).toContain(
      "warning: API_TOKEN: a value on the command line stays in your shell history and is visible in the process list; " +
        "prefer `qdeploy secrets set prod API_TOKEN`, which asks for it without echo on a terminal, or reads it from " +
        "standard input (`... API_TOKEN < file`)",
    );
    expect(r).toEqual({ env: "prod", set: ["API_TOKEN", "EMPTY"], file: at });
    expect(all(r)).not.toContain("tok-123456");
  });

  test("a bare KEY from stdin does not warn", async () => {
    await set(["API_TOKEN"], io({ stdin: async () => "tok-123456\n" }));
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
    const r = await set(["API_TOKEN"], io({ promptHidden: t.promptHidden }));
    expect(r.set).toEqual(["API_TOKEN"]);
    expect(t.prompts).toEqual(["API_TOKEN for prod (typing is hidden; a multi-line value: pipe it in): ", "API_TOKEN again: "]);
    expect(await read()).toEqual({ API_TOKEN: "typed-value" });
    expect(all(r)).not.toContain("typed-value");
    await expect(set(["B"], io({ promptHidden: async () => "" }))).rejects.toThrow("no value typed for B");
  });

  test("two different values typed: an error, and nothing is written", async () => {
    await set(["A=1"]);
    const before = await readFile(join(root, "secrets", "prod.env.age"));
    const t = typing("first-typed", "first-typo");
    const e = await set(["API_TOKEN"], io({ promptHidden: t.promptHidden })).catch((x) => x);
    expect(e).toBeInstanceOf(OperationError);
    expect(e.message).toBe("the two values typed for API_TOKEN differ: nothing was changed in prod");
    expect(t.prompts).toHaveLength(2);
    expect(await readFile(join(root, "secrets", "prod.env.age"))).toEqual(before);
    expect(await read()).toEqual({ A: "1" });
  });

  test("a value no dotenv file can hold is refused, by name", async () => {
    const e = await set(["X"], io({ stdin: async () => " padded, ending in \\" })).catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toStartWith("qdeploy secrets set: X: this value cannot be written in a dotenv file");
    expect(e.message).not.toContain("padded");
    expect(existsSync(join(root, "secrets"))).toBe(false);
  });

  test("an empty stdin for a bare KEY, or two bare KEYs, is bad usage", async () => {
    const stdin = async () => "\n";
    await expect(set(["A"], io({ stdin }))).rejects.toThrow("no value for A on standard input");
    await expect(set(["A", "B"])).rejects.toThrow("only one bare KEY");
  });

  test("names are checked, and a bad one is never echoed", async () => {
    const e = await set(["A=1", "hunter2-secret"]).catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toContain("KEY argument 2: not a valid name");
    expect(e.message).not.toContain("hunter2");
    await expect(set(["PORT=80"])).rejects.toThrow("PORT is set by qdeploy");
    await expect(set(["QDEPLOY_X=1"])).rejects.toThrow("reserved");
    await expect(set(["A=1", "A=2"])).rejects.toThrow("A is given twice");
    expect(existsSync(join(root, "secrets"))).toBe(false);
  });

  test("KEY=VALUE splits at the first =; a bare KEY has no value", () => {
    expect(parseAssignment("A=b=c")).toEqual({ name: "A", value: "b=c" });
    expect(parseAssignment("A=")).toEqual({ name: "A", value: "" });
    expect(parseAssignment("A")).toEqual({ name: "A" });
  });

  test("only for store age", async () => {
    const envCfg = cfg({ store: "env", names: ["A"] });
    const ops = [() => set(["A=1"], io(), envCfg), () => unsetSecrets(io(), envCfg, "prod", ["A"])];
    for (const op of ops) {
      const e = await op().catch((x) => x);
      expect(e).toBeInstanceOf(UsageError);
      expect(e.message).toStartWith('secrets for store "env" live in your environment, not in qdeploy');
    }
    await expect(set(["A=1"], io(), cfg({ store: "command", command: ["x"] }))).rejects.toThrow(
      'secrets for store "command" live wherever secrets.command reads them from',
    );
  });

  test("first use creates the identity, says where, and prints the public key", async () => {
    const environ = { QDEPLOY_AGE_KEY: undefined };
    await set(["A=1"], io({}, environ));
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
  test("list returns the names sorted, never the values", async () => {
    await set(["ZED=value-zed-1", "ALPHA=value-alpha-2", "MID=value-mid-3"]);
    out = [];
    err = [];
    const r = await listSecrets(io(), cfg(), "prod");
    expect(r).toEqual({ env: "prod", store: "age", names: ["ALPHA", "MID", "ZED"] });
    expect(all(r)).not.toContain("value-");
  });

  test("list with no file yet says so", async () => {
    expect(await listSecrets(io(), cfg(), "prod")).toEqual({ env: "prod", store: "age", names: [] });
    expect(err[0]).toContain("prod has no secrets yet");
  });

  test("list works for the env store too", async () => {
    const r = await listSecrets(io({}, { A: "va-secret", B: "vb-secret" }), cfg({ store: "env", names: ["B", "A"] }), "prod");
    expect(r).toEqual({ env: "prod", store: "env", names: ["A", "B"] });
    expect(all(r)).not.toContain("secret");
  });

  test("unset removes names and notes the ones that were not set", async () => {
    await set(["A=1", "B=2"]);
    expect(await unsetSecrets(io(), cfg(), "prod", ["A", "C"])).toEqual({ env: "prod", unset: ["A"], absent: ["C"], file: at });
    expect(err).toContain("not set in prod, nothing to remove: C");
    expect(await read()).toEqual({ B: "2" });
    expect(await unsetSecrets(io(), cfg(), "prod", ["C"])).toEqual({ env: "prod", unset: [], absent: ["C"], file: at });
  });

  test("one ResolvedConfig serves its own environment only", async () => {
    await expect(listSecrets(io(), cfg(), "staging")).rejects.toThrow('this configuration is for environment "prod", not "staging"');
  });
});

describe("secrets import", () => {
  const file = async (text: string) => {
    const p = join(root, "import.env");
    await writeFile(p, text);
    return p;
  };

  test("sets every key of a dotenv file over what is there, and returns the names", async () => {
    await set(["KEEP=kept", "B=old"]);
    const p = await file("# from the old host\nexport A=1\nB = 'two words' # comment\nPEM=\"line1\nline2\"\n");
    const r = await importSecrets(io(), cfg(), "prod", p);
    expect(await read()).toEqual({ KEEP: "kept", B: "two words", A: "1", PEM: "line1\nline2" });
    expect(r).toEqual({ env: "prod", set: ["A", "B", "PEM"], added: ["A", "PEM"], changed: ["B"], file: at });
    expect(all(r)).not.toContain("two words");
  });

  test("- reads standard input", async () => {
    await set(["A=old"]);
    const r = await importSecrets(io({ stdin: async () => "A=new\nC=3\n" }), cfg(), "prod", "-");
    expect(await read()).toEqual({ A: "new", C: "3" });
    expect(r).toEqual({ env: "prod", set: ["A", "C"], added: ["C"], changed: ["A"], file: at });
  });

  test("__proto__ and constructor are names like any other: imported, reported as added, read back", async () => {
    const p = await file("__proto__=x\nconstructor=y\n");
    expect(await importSecrets(io(), cfg(), "prod", p)).toEqual({ env: "prod", set: ["__proto__", "constructor"], added: ["__proto__", "constructor"], changed: [], file: at });
    expect(Object.entries(await read())).toEqual([["__proto__", "x"], ["constructor", "y"]]);
    // A name never set is not there, whatever Object.prototype holds.
    expect((await unsetSecrets(io(), cfg(), "prod", ["toString"])).unset).toEqual([]);
    expect(err).toContain("not set in prod, nothing to remove: toString");
  });

  test("every problem in the file is reported, by line, and nothing is written", async () => {
    await set(["A=1"]);
    const before = await readFile(join(root, "secrets", "prod.env.age"));
    const p = await file("B=fine\nhunter2-alone\nC='unclosed hunter2\nbad-name=hunter2\n");
    const e = await importSecrets(io(), cfg(), "prod", p).catch((x) => x);
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

  test("a missing file, an empty one", async () => {
    await expect(importSecrets(io(), cfg(), "prod", join(root, "nope.env"))).rejects.toThrow("(ENOENT)");
    await expect(importSecrets(io(), cfg(), "prod", await file("# only a comment\n"))).rejects.toThrow(
      "has no KEY=VALUE lines: nothing was set in prod",
    );
    expect(existsSync(join(root, "secrets"))).toBe(false);
  });
});
