import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { generateIdentity } from "age-encryption";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { OperationError, UsageError } from "../errors.ts";
import { editSecrets } from "./edit.ts";
import type { SecretsIO } from "./operation.ts";
import { loadSecrets } from "./store.ts";
import { parseAssignment, setSecrets } from "./values.ts";

let root: string;
let key: string;
let err: string[];

const cfg = (secrets: ResolvedConfig["secrets"] = { store: "age" }) =>
  ({ app: "hello", env: "prod", root, secrets }) as ResolvedConfig;
const io = (environ: Record<string, string | undefined> = {}): SecretsIO => ({
  stdin: async () => {
    throw new Error("stdin must not be read here");
  },
  out: () => {
    throw new Error("edit returns its result");
  },
  err: (l) => err.push(l),
  environ: { PATH: process.env.PATH, XDG_CONFIG_HOME: join(root, "config"), QDEPLOY_AGE_KEY: key, ...environ },
});
const set = (...args: string[]) => setSecrets(io(), cfg(), "prod", args.map(parseAssignment));
const edit = (environ: Record<string, string | undefined>) => editSecrets(io(environ), cfg(), "prod");
const read = () => loadSecrets(cfg(), { environ: { QDEPLOY_AGE_KEY: key } });
const at = "secrets/prod.env.age";

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "qdeploy-edit-test-"));
  key = await generateIdentity();
  err = [];
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
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
    await set("A=old-value", "B=multi\nline");
    const environ = await editor(`printf 'NEW="x\\\\ny"\\n' >> "$1"`);
    expect(await edit(environ)).toEqual({ env: "prod", added: ["NEW"], changed: [], removed: [], file: at });
    expect(await read()).toEqual({ A: "old-value", B: "multi\nline", NEW: "x\ny" });
    const modes = await readFile(join(root, "edited-modes"), "utf8");
    expect(modes).toMatch(/^drwx------ .*\n-rw------- /); // dir 0700, file 0600
    expect(existsSync(await editedDir())).toBe(false);
  });

  test("the editor does not inherit QDEPLOY_AGE_KEY", async () => {
    const seen = join(root, "editor-env");
    const script = join(root, "env-editor.sh");
    await writeFile(script, `#!/bin/sh\necho "\${QDEPLOY_AGE_KEY:-none}" > ${seen}\n`);
    await chmod(script, 0o755);
    await edit({ EDITOR: script, VISUAL: undefined });
    expect(await readFile(seen, "utf8")).toBe("none\n");
  });

  test("VISUAL wins, arguments in it are kept, and an untouched file changes nothing", async () => {
    await set("A=1");
    const env = await editor("true");
    const before = await readFile(join(root, "secrets", "prod.env.age"));
    expect(await edit({ EDITOR: "false", VISUAL: `${env.EDITOR} --wait` })).toEqual({ env: "prod", added: [], changed: [], removed: [], file: at });
    expect(await readFile(join(root, "secrets", "prod.env.age"))).toEqual(before);
  });

  test("changed and removed names are reported by name", async () => {
    await set("A=1", "B=2");
    const r = await edit(await editor(`printf 'A=changed\\n' > "$1"`));
    expect(r).toEqual({ env: "prod", added: [], changed: ["A"], removed: ["B"], file: at });
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
    await set("A=1");
    err = [];
    const environ = await rounds(
      `printf 'oops-secret-value\\nmy-key=hunter2\\nB=2\\n' >> "$1"`,
      `sed -i -e '/^oops-secret-value$/d' -e 's/^my-key=/MY_KEY=/' "$1"`,
    );
    expect(await edit(environ)).toEqual({ env: "prod", added: ["MY_KEY", "B"], changed: [], removed: [], file: at });
    expect(await runs()).toBe(2);
    expect(await read()).toEqual({ A: "1", MY_KEY: "hunter2", B: "2" });

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
    await set("A=1");
    const before = await readFile(join(root, "secrets", "prod.env.age"));
    const environ = await rounds(`echo "oops-secret" >> "$1"`, "");
    const e = await edit(environ).catch((x) => x);
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
    expect(await edit(environ)).toEqual({ env: "prod", added: ["A"], changed: [], removed: [], file: at });
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
    await set("A=1");
    const e = await edit(await editor(`echo B=2 >> "$1"; exit 4`)).catch((x) => x);
    expect(e).toBeInstanceOf(OperationError);
    expect(e.message).toContain("exited with 4: nothing was changed in prod");
    expect(await read()).toEqual({ A: "1" });
    expect(existsSync(await editedDir())).toBe(false);
  });

  test("SIGTERM while the editor runs removes the temp dir", async () => {
    await set("A=1");
    const environ = await editor("exec sleep 30");
    const runner = join(root, "runner.ts");
    await writeFile(
      runner,
      `import { editSecrets } from ${JSON.stringify(join(import.meta.dir, "edit.ts"))};\n` +
        `await editSecrets({ stdin: async () => "", out: () => {}, err: () => {}, environ: ${JSON.stringify(io(environ).environ)} }, ` +
        `${JSON.stringify(cfg())}, "prod");\n`,
    );
    const proc = Bun.spawn([process.execPath, runner], { stdio: ["ignore", "ignore", "ignore"] });
    // The editor's first line writes the path: wait for the whole line, not for the file alone
    // (created empty by the shell's redirection, it was once read before the echo wrote it).
    const pathFile = join(root, "edited-path");
    const written = async () => existsSync(pathFile) && (await readFile(pathFile, "utf8")).endsWith("\n");
    for (let i = 0; i < 100 && !(await written()); i++) await Bun.sleep(50);
    const dir = await editedDir();
    expect(existsSync(dir)).toBe(true);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(143);
    expect(existsSync(dir)).toBe(false);
    expect(await read()).toEqual({ A: "1" });
  });

  test("only for store age", async () => {
    const e = await editSecrets(io(), cfg({ store: "env", names: ["A"] }), "prod").catch((x) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toStartWith('secrets for store "env" live in your environment, not in qdeploy');
  });

  test("edit creates the store when there is none", async () => {
    await edit(await editor(`echo A=first >> "$1"`));
    expect(await read()).toEqual({ A: "first" });
    expect((await stat(join(root, "secrets", "recipients.txt"))).isFile()).toBe(true);
  });
});
