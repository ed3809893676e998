// qdeploy's secrets files and the standard `age` CLI (Debian's `age` package) read each other.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResolvedConfig } from "../src/config/types.ts";
import type { SecretsIO } from "../src/secrets/operation.ts";
import { formatSecretsText } from "../src/secrets/dotenv.ts";
import { loadSecrets } from "../src/secrets/store.ts";
import { parseAssignment, setSecrets } from "../src/secrets/values.ts";
import { requireTool } from "./tools.ts";

let root: string;
let idFile: string;
let pub: string;

const cfg = () => ({ app: "hello", env: "prod", root, secrets: { store: "age" } }) as ResolvedConfig;
const quiet: SecretsIO = { stdin: async () => "", out: () => {}, err: () => {}, environ: {} };
const secretsFile = () => join(root, "secrets", "prod.env.age");
const values = { DATABASE_URL: "postgres://u:p@h/db?sslmode=require", PEM: "-----BEGIN-----\nAB/+==\n-----END-----", EMPTY: "", QUOTE: '"x"' };

async function run(argv: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(argv, { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

beforeEach(async () => {
  for (const tool of ["age", "age-keygen"]) requireTool(tool);
  root = await mkdtemp(join(tmpdir(), "qdeploy-age-cli-"));
  idFile = join(root, "key.txt");
  const gen = await run(["age-keygen", "-o", idFile]);
  expect(gen.code).toBe(0);
  pub = (await readFile(idFile, "utf8")).match(/# public key: (age1\S+)/)![1]!;
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("age CLI interop", () => {
  test("a file qdeploy writes decrypts with `age -d -i` to the same content", async () => {
    const pairs = Object.entries(values).map(([k, v]) => parseAssignment(`${k}=${v}`));
    expect((await setSecrets(quiet, cfg(), "prod", pairs, { identityFile: idFile })).set).toEqual(Object.keys(values));
    const r = await run(["age", "-d", "-i", idFile, secretsFile()]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(formatSecretsText(values));
  });

  test("a file `age -r` encrypts is read by qdeploy, binary or armored", async () => {
    await mkdir(join(root, "secrets"));
    const text = '# from the CLI\nDATABASE_URL=postgres://u:p@h/db\nPEM="a\\nb"\n';
    for (const armor of [[], ["-a"]]) {
      const r = await run(["age", "-r", pub, ...armor, "-o", secretsFile()], text);
      expect(r.code).toBe(0);
      expect(await loadSecrets(cfg(), { identityFile: idFile, environ: {} })).toEqual({
        DATABASE_URL: "postgres://u:p@h/db",
        PEM: "a\nb",
      });
    }
  });

  test("recipients.txt is a valid `age -R` file", async () => {
    await setSecrets(quiet, cfg(), "prod", [{ name: "A", value: "1" }], { identityFile: idFile });
    const recipients = join(root, "secrets", "recipients.txt");
    expect(await readFile(recipients, "utf8")).toContain("# "); // has comments, which age -R skips
    const enc = await run(["age", "-R", recipients, "-o", secretsFile()], "B=2\n");
    expect(enc.stderr).toBe("");
    expect(await loadSecrets(cfg(), { identityFile: idFile, environ: {} })).toEqual({ B: "2" });
  });

  test("qdeploy's default identity file works as `age -i`", async () => {
    const environ = { XDG_CONFIG_HOME: join(root, "config") };
    await setSecrets({ ...quiet, environ }, cfg(), "prod", [{ name: "A", value: "1" }]);
    const r = await run(["age", "-d", "-i", join(root, "config", "qdeploy", "age-identity.txt"), secretsFile()]);
    expect(r.stdout).toBe(formatSecretsText({ A: "1" }));
  });
});
