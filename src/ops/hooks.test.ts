import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { HookName } from "../config/types.ts";
import type { OpEvent } from "../events.ts";
import { HookFailed, hookEnv, hookRunner } from "./hooks.ts";

const root = mkdtempSync(path.join(tmpdir(), "qdeploy-hooks-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function runner(commands: Partial<Record<HookName, string>>, timeoutSec = 30, enabled = true) {
  const events: OpEvent[] = [];
  const r = hookRunner({ app: "hello", env: "prod", root, hooks: { commands, timeoutSec } }, "me@laptop", (e) => events.push(e), enabled);
  const lines = () => events.map((e) => ("line" in e ? `${e.type}: ${e.line}` : e.type));
  return { r, lines };
}

const facts = { action: "push" as const, release: "20261205120000", hosts: ["deploy@a", "deploy@b"], commit: "abc123" };

describe("hookEnv", () => {
  test("every QDEPLOY_* variable, empty when not known yet", () => {
    expect(hookEnv({ app: "hello", env: "prod" }, "me@laptop", { action: "push", hosts: ["deploy@a"] })).toEqual({
      QDEPLOY_APP: "hello",
      QDEPLOY_ENV: "prod",
      QDEPLOY_ACTION: "push",
      QDEPLOY_RELEASE: "",
      QDEPLOY_HOSTS: "deploy@a",
      QDEPLOY_WHO: "me@laptop",
      QDEPLOY_COMMIT: "",
      QDEPLOY_OUTCOME: "",
      QDEPLOY_ERROR: "",
    });
  });
});

describe("hookRunner", () => {
  test("bash -c in deploy.toml's folder with the variables; output as `hook NAME | line`", async () => {
    const { r, lines } = runner({ post_deploy: 'env | grep ^QDEPLOY_ | sort > vars.txt; echo "deployed $QDEPLOY_RELEASE"; echo oops >&2' });
    await r.run("post_deploy", { ...facts, outcome: "succeeded" });
    expect(readFileSync(path.join(root, "vars.txt"), "utf8")).toContain("QDEPLOY_HOSTS=deploy@a,deploy@b\nQDEPLOY_OUTCOME=succeeded\nQDEPLOY_RELEASE=20261205120000\n");
    expect(lines()).toContain("info: hook post_deploy | deployed 20261205120000");
    expect(lines()).toContain("info: hook post_deploy | oops");
    expect(lines().at(-1)).toMatch(/^info: hook post_deploy done \(\d+\.\ds\)$/);
  });

  test("a failing pre_build or pre_deploy stops the deploy; a failing post hook is reported, not thrown", async () => {
    const { r, lines } = runner({ pre_deploy: "echo CI is red; exit 3", post_deploy: "exit 1", on_failure: "false" });
    const err = await r.run("pre_deploy", facts).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HookFailed);
    expect((err as Error).message).toBe("hook pre_deploy (echo CI is red; exit 3) exited with status 3: the push stopped before any release was written");
    expect(lines()).toContain("info: hook pre_deploy | CI is red");
    await r.run("post_deploy", { ...facts, outcome: "succeeded" });
    expect(lines().at(-1)).toMatch(/^error: hook post_deploy \(exit 1\) exited with status 1 after \d+\.\ds; the push itself succeeded$/);
  });

  test("a hook over hooks.timeout is stopped and counts as failed", async () => {
    const { r } = runner({ pre_build: "sleep 30" }, 0.5);
    const t = performance.now();
    await expect(r.run("pre_build", facts)).rejects.toThrow("hook pre_build (sleep 30) ran longer than 500ms (hooks.timeout) and was stopped: the push stopped before any release was written");
    expect(performance.now() - t).toBeLessThan(5000);
  });

  test("no command, or --no-hooks: nothing runs", async () => {
    const none = runner({});
    await none.r.run("pre_deploy", facts);
    expect(none.lines()).toEqual([]);
    const off = runner({ pre_deploy: "exit 1" }, 30, false);
    await off.r.run("pre_deploy", facts);
    expect(off.lines()).toEqual([]);
  });
});

test("a process that ran a hook exits as soon as its work is done (no timer left behind)", async () => {
  const script = `import { hookRunner } from ${JSON.stringify(path.join(import.meta.dir, "hooks.ts"))};
const r = hookRunner({ app: "a", env: "e", root: ${JSON.stringify(root)}, hooks: { commands: { post_deploy: "true" }, timeoutSec: 300 } }, "me", () => {});
await r.run("post_deploy", { action: "push", hosts: [] });`;
  const t = performance.now();
  const p = Bun.spawn([process.execPath, "-e", script], { stdout: "ignore", stderr: "pipe" });
  expect(await p.exited).toBe(0);
  // A left-over timer (the 1 s output grace, the 300 s timeout) would hold the process that long.
  expect(performance.now() - t).toBeLessThan(900);
});
