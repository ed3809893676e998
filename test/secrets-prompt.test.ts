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

/**
 * Runs `qdeploy ARGS` on a pseudo-terminal; each time a step's `until` shows up (after the
 * previous step's), types its `keys`. Returns what the terminal showed.
 */
async function onTerminal(args: string[], steps: { until: string; keys: string }[]): Promise<{ code: number; screen: string }> {
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
  let seenUpTo = 0;
  let typed = 0;
  const decoder = new TextDecoder();
  const timer = setTimeout(() => p.kill(), 30_000);
  for await (const chunk of p.stdout) {
    screen += decoder.decode(chunk);
    const step = steps[typed];
    if (!step) continue;
    const at = screen.indexOf(step.until, seenUpTo);
    if (at < 0) continue;
    seenUpTo = at + step.until.length;
    typed++;
    p.stdin.write(step.keys);
    p.stdin.flush();
  }
  p.stdin.end();
  const code = await p.exited;
  clearTimeout(timer);
  screen += await new Response(p.stderr).text();
  expect(typed).toBe(steps.length); // every prompt came
  return { code, screen };
}

const FIRST = "(typing is hidden";
const stored = () => loadSecrets({ root: dir, env: "prod", secrets: { store: "age" as const } }, { environ: { QDEPLOY_AGE_KEY: key } });

test("a bare KEY on a terminal asks for the value twice and echoes neither", async () => {
  const r = await onTerminal(
    ["secrets", "set", "prod", "API_TOKEN"],
    [
      { until: FIRST, keys: "typed-s3cret-value\r" },
      { until: "API_TOKEN again: ", keys: "typed-s3cret-value\r" },
    ],
  );
  expect(r.screen).toContain("API_TOKEN for prod (typing is hidden; a multi-line value: pipe it in): ");
  expect(r.screen).toContain("API_TOKEN again: ");
  expect(r.screen).not.toContain("typed-s3cret-value");
  expect(r.screen).not.toContain("s3cret");
  expect(r.screen).toContain("set API_TOKEN in prod (secrets/prod.env.age)");
  expect(r.code).toBe(0);
  expect(r.screen).toMatch(/^echo\r?$/m);
  expect(await stored()).toEqual({ API_TOKEN: "typed-s3cret-value" });
}, 60_000);

test("Enter ends the value, not Ctrl-D; Backspace edits it", async () => {
  const r = await onTerminal(
    ["secrets", "set", "prod", "EDITED"],
    [
      { until: FIRST, keys: "abc\x04dex\x7ff\r" },
      { until: "EDITED again: ", keys: "abcdef\r" },
    ],
  );
  expect(r.code).toBe(0);
  expect(r.screen).not.toContain("abc");
  expect((await stored()).EDITED).toBe("abcdef");
}, 60_000);

test("two different values: an error, nothing written, the terminal echoing again", async () => {
  const before = await stored();
  const r = await onTerminal(
    ["secrets", "set", "prod", "API_TOKEN"],
    [
      { until: FIRST, keys: "new-value-one\r" },
      { until: "API_TOKEN again: ", keys: "new-value-two\r" },
    ],
  );
  expect(r.code).toBe(1);
  expect(r.screen).toContain("the two values typed for API_TOKEN differ: nothing was changed in prod");
  expect(r.screen).not.toContain("new-value");
  expect(r.screen).toMatch(/^echo\r?$/m);
  expect(await stored()).toEqual(before);
}, 60_000);

test("Ctrl-C at the prompt changes nothing and leaves the terminal echoing again", async () => {
  const r = await onTerminal(["secrets", "set", "prod", "OTHER"], [{ until: FIRST, keys: "half-typed\x03" }]);
  expect(r.code).toBe(1);
  expect(r.screen).toContain("cancelled: nothing was changed");
  expect(r.screen).not.toContain("half-typed");
  expect(r.screen).toMatch(/^echo\r?$/m);
  expect(Object.keys(await stored())).not.toContain("OTHER");
}, 60_000);
