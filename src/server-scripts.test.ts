import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTool } from "../test/tools.ts";
import { processPlace } from "./plan/layout.ts";
import { switchScript } from "./server-scripts.ts";

// `switch exec` runs the real switch script against a release laid out in a temp dir, with a
// stand-in systemd-run that prints where it was started and its argv (the VM suites run the
// real one).
let dir = "";
let bash = "";
beforeAll(() => {
  bash = requireTool("bash");
  dir = mkdtempSync(join(tmpdir(), "qdeploy-switch-exec-"));
  const root = join(dir, "hello");
  mkdirSync(join(root, "releases", "01", "app", "bin"), { recursive: true });
  mkdirSync(join(root, "releases", "02"), { recursive: true });
  // A release an older qdeploy pushed: its programs in bin/, no app/.
  mkdirSync(join(root, "releases", "03", "bin"), { recursive: true });
  writeFileSync(join(root, "switch"), switchScript, { mode: 0o755 });
  mkdirSync(join(dir, "tools"));
  const probe = (who: string) => `#!/bin/sh\nprintf '%s\\n' "${who}" "$(pwd)" "$PATH" "$@"\n`;
  writeFileSync(join(dir, "tools", "systemd-run"), probe("systemd-run"), { mode: 0o755 });
  // A file of the app named like it must never be what the switch (root) runs.
  writeFileSync(join(root, "releases", "01", "app", "bin", "systemd-run"), probe("the app's"), { mode: 0o755 });
});
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

function exec(live: string, ...argv: string[]) {
  const root = join(dir, "hello");
  rmSync(join(root, "current"), { force: true });
  symlinkSync(`releases/${live}`, join(root, "current"));
  const r = Bun.spawnSync([bash, join(root, "switch"), "exec", ...argv], {
    env: { PATH: `${join(dir, "tools")}:/usr/bin:/bin` },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, out: r.stdout.toString().split("\n").slice(0, -1), err: r.stderr.toString() };
}

test("switch exec: CMD runs in the live release's app/, HOME there, its bin/ first on PATH, looked up there too", () => {
  const rel = join(dir, "hello", "releases", "01");
  const place = processPlace(rel);
  expect(exec("01", "bin/console", "--env", "prod")).toEqual({
    code: 0,
    // systemd-run resolves CMD itself (with its PATH, from its directory) before the unit starts.
    out: [
      "systemd-run",
      place.workingDirectory,
      place.path,
      "--quiet",
      "--pipe",
      "--wait",
      "--collect",
      "--service-type=exec",
      "-p",
      "DynamicUser=yes",
      "-p",
      "User=hello",
      "-p",
      "StateDirectory=hello",
      "-p",
      `EnvironmentFile=${rel}/env`,
      "-p",
      `WorkingDirectory=${place.workingDirectory}`,
      `--setenv=HOME=${place.home}`,
      `--setenv=PATH=${place.path}`,
      "--",
      "bin/console",
      "--env",
      "prod",
    ],
    err: "",
  });
});

test("switch exec: a release an older qdeploy pushed (bin/, no app/) runs as it did: the state dir, its bin/ on PATH", () => {
  const rel = join(dir, "hello", "releases", "03");
  const r = exec("03", "hello", "version");
  expect(r.code).toBe(0);
  expect(r.out).toContain("WorkingDirectory=/var/lib/hello");
  expect(r.out).toContain(`--setenv=PATH=${rel}/bin:/usr/local/bin:/usr/bin:/bin`);
});

test("switch exec: a release without app/ is refused, naming it", () => {
  expect(exec("02", "ls")).toEqual({ code: 1, out: [], err: `error: release 02 has no app directory (${join(dir, "hello", "releases", "02", "app")})\n` });
});
