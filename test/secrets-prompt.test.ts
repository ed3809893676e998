/**
 * `qdeploy secrets set ENV KEY` on a real terminal: script(1) runs it under a pseudo-terminal,
 * whose line discipline echoes typed keys unless qdeploy turns echo off.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { generateIdentity } from "age-encryption";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadSecrets } from "../src/secrets/store.ts";

const REPO = path.resolve(import.meta.dir, "..");
const QDEPLOY = path.join(REPO, "bin/qdeploy");
const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-prompt-"));
let key: string;

beforeAll(async () => {
  if (!Bun.which("script")) throw new Error("this test needs script(1) from util-linux: apt-get install bsdutils");
  key = await generateIdentity();
  writeFileSync(
    path.join(dir, "deploy.toml"),
    ['app = "prompted"', "[processes]", 'worker = "x"', "[secrets]", 'store = "age"', "[environments.prod]", 'hosts = ["root@192.0.2.1"]'].join("\n"),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `qdeploy ARGS` on a pseudo-terminal; when `until` shows up, types `keys`. Returns what the terminal showed. */
async function onTerminal(args: string[], until: string, keys: string): Promise<{ code: number; screen: string }> {
  // Afterwards the terminal's echo flag is printed: "echo" when it was restored, "-echo" if not.
  const command = `${[QDEPLOY, ...args].map((a) => `'${a}'`).join(" ")}; rc=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?echo'; exit $rc`;
  const p = Bun.spawn(["script", "-qefc", command, "/dev/null"], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: "1", QDEPLOY_AGE_KEY: key },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  let screen = "";
  let typed = false;
  const decoder = new TextDecoder();
  const timer = setTimeout(() => p.kill(), 30_000);
  for await (const chunk of p.stdout) {
    screen += decoder.decode(chunk);
    if (!typed && screen.includes(until)) {
      typed = true;
      p.stdin.write(keys);
      p.stdin.flush();
    }
  }
  p.stdin.end();
  const code = await p.exited;
  clearTimeout(timer);
  screen += await new Response(p.stderr).text();
  expect(typed).toBe(true); // the prompt came
  return { code, screen };
}

test("a bare KEY on a terminal asks for the value and does not echo it", async () => {
  const r = await onTerminal(["secrets", "set", "prod", "API_TOKEN"], "(typing is hidden", "typed-s3cret-value\r");
  expect(r.screen).toContain("API_TOKEN for prod (typing is hidden; a multi-line value: pipe it in): ");
  expect(r.screen).not.toContain("typed-s3cret-value");
  expect(r.screen).toContain("set API_TOKEN in prod (secrets/prod.env.age)");
  expect(r.code).toBe(0);
  expect(r.screen).toMatch(/^echo\r?$/m);
  const cfg = { root: dir, env: "prod", secrets: { store: "age" as const } };
  expect(await loadSecrets(cfg, { environ: { QDEPLOY_AGE_KEY: key } })).toEqual({ API_TOKEN: "typed-s3cret-value" });
}, 60_000);

test("Ctrl-C at the prompt changes nothing and leaves the terminal echoing again", async () => {
  const r = await onTerminal(["secrets", "set", "prod", "OTHER"], "(typing is hidden", "half-typed\x03");
  expect(r.code).toBe(1);
  expect(r.screen).toContain("cancelled: nothing was changed");
  expect(r.screen).not.toContain("half-typed");
  expect(r.screen).toMatch(/^echo\r?$/m);
  const cfg = { root: dir, env: "prod", secrets: { store: "age" as const } };
  expect(Object.keys(await loadSecrets(cfg, { environ: { QDEPLOY_AGE_KEY: key } }))).not.toContain("OTHER");
}, 60_000);
