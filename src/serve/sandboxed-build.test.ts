import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { $ } from "zx";
import { buildForArchs } from "../build/builds.ts";
import { loadConfigOrThrow } from "../config/load.ts";
import type { EventSink } from "../events.ts";
import { requireTool } from "../../test/tools.ts";
import { allowedEnv, chooseSandbox, type Sandbox, sandboxedBuild } from "./sandboxed-build.ts";

// Issue 21, item 1: a commit whose [env] sets GOFLAGS=-toolexec runs its own script during the
// build. Here it runs; it must not reach what the server holds (a key next to the server's
// state), see the server's variables, or leave a marker beside the key.
const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-sandboxed-"));
const state = path.join(dir, "server-state");
const key = path.join(state, "id_ed25519");
const KEY_TEXT = "-----BEGIN OPENSSH PRIVATE KEY----- the-server-key";
const repo = path.join(dir, "repo");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The build's lines, live progress left out. */
const silent =
  (lines: string[]): EventSink =>
  (e) => {
    if (e.type !== "progress" && e.type !== "wave" && e.type !== "locked") lines.push(e.line);
  };

let made: Promise<string> | null = null;
/** The commit (made once): a Go main, x.sh, and a deploy.toml whose [env] runs x.sh around the compiler. */
const attackCommit = () => (made ??= makeAttackCommit());

async function makeAttackCommit(): Promise<string> {
  await $`mkdir -p ${state} ${repo}`;
  writeFileSync(key, `${KEY_TEXT}\n`, { mode: 0o600 });
  writeFileSync(path.join(repo, "go.mod"), "module example.com/evil\n\ngo 1.22\n");
  writeFileSync(path.join(repo, "main.go"), "package main\n\nfunc main() {}\n");
  // The script says what it could see, then fails the build so its words reach the error.
  writeFileSync(
    path.join(repo, "x.sh"),
    `#!/bin/sh\necho "TOOLEXEC-RAN uid=$(id -u) key=[$(cat ${key} 2>&1 | head -c 120)] age=[$QDEPLOY_AGE_KEY] agent=[$SSH_AUTH_SOCK]" >&2\necho pwned > ${state}/marker 2>/dev/null\nexit 1\n`,
    { mode: 0o755 },
  );
  writeFileSync(
    path.join(repo, "deploy.toml"),
    `app = "evil"\n[processes]\nweb = "evil"\n[web]\ndomains = ["evil.localhost"]\nhealth = "/healthz"\n[env]\nGOFLAGS = "-toolexec=./x.sh"\n[environments.prod]\nhosts = ["root@127.0.0.1:2999"]\n`,
  );
  await $({ cwd: repo, quiet: true })`git init -q -b main && git add -A && git -c user.email=t@t -c user.name=t commit -qm evil`;
  return (await $({ cwd: repo, quiet: true })`git rev-parse HEAD`).stdout.trim();
}

describe("the build sandbox (bubblewrap here; the installed server's unit is tried on the VM)", () => {
  test("a commit's -toolexec runs, but reads no key, sees none of the server's variables, writes no marker; built in-process it would", async () => {
    // bubblewrap is a test tool (npm test installs it); chooseSandbox names it when missing.
    requireTool("bwrap");
    expect(chooseSandbox().name).toStartWith("bubblewrap");
    const commit = await attackCommit();
    const cfg = await loadConfigOrThrow(path.join(repo, "deploy.toml"), "prod");
    const saved = { age: process.env.QDEPLOY_AGE_KEY, agent: process.env.SSH_AUTH_SOCK };
    process.env.QDEPLOY_AGE_KEY = "AGE-SECRET-KEY-1SERVERS";
    process.env.SSH_AUTH_SOCK = "/run/agent.sock";
    try {
      const lines: string[] = [];
      const err = await sandboxedBuild({ dir: repo, configFile: path.join(repo, "deploy.toml"), commit })(cfg, ["x86_64"], silent(lines)).then(() => null, (e: Error) => e);
      expect(err?.message).toContain("failed in the build sandbox");
      const said = /TOOLEXEC-RAN uid=(\d+) key=\[([^\]]*)\] age=\[([^\]]*)\] agent=\[([^\]]*)\]/.exec(err!.message);
      expect(said, err!.message).not.toBeNull();
      const [, uid, keyText, age, agent] = said!;
      expect(uid).toBe("65534");
      expect(keyText).toStartWith(`cat: ${key}: No such file`);
      expect([age, agent]).toEqual(["", ""]);
      expect(existsSync(path.join(state, "marker"))).toBe(false);
      expect(lines[0]).toStartWith(`building commit ${commit.slice(0, 12)} in the build sandbox (bubblewrap`);

      // The same commit built in this process (as the server did before issue 21): the key leaks.
      const before = await buildForArchs(cfg, ["x86_64"], silent([])).then(() => null, (e: Error) => e);
      expect(before?.message).toContain(KEY_TEXT.slice(0, 40));
      expect(before?.message).toContain("agent=[/run/agent.sock]");
      expect(existsSync(path.join(state, "marker"))).toBe(true);
    } finally {
      for (const [k, v] of [["QDEPLOY_AGE_KEY", saved.age], ["SSH_AUTH_SOCK", saved.agent]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }, 120_000);

  test("the server's variables a build sees: the allowlist, nothing else", () => {
    expect(allowedEnv({ PATH: "/usr/bin", GOPROXY: "https://proxy.golang.org", HOME: "/var/lib/qdeploy-serve", SSH_AUTH_SOCK: "/s", QDEPLOY_AGE_KEY: "k", GIT_SSH_COMMAND: "ssh -i k", QDEPLOY_SERVE_TOKENS: "/t" })).toEqual({
      PATH: "/usr/bin",
      GOPROXY: "https://proxy.golang.org",
    });
  });
});

describe("what the sandbox answers is checked like any input (the commit's code ran there)", () => {
  /** A sandbox that answers these lines, whatever it is sent. */
  const answering = (...answer: object[]): Sandbox => ({
    name: "a stand-in",
    start: () => ({
      write: async () => {},
      output: (async function* () {
        for (const m of answer) yield Buffer.from(`${JSON.stringify(m)}\n`);
      })(),
      ended: async () => "",
      kill: () => {},
    }),
  });
  const program = Buffer.from("\x7fELF a program");
  const sha = createHash("sha256").update(program).digest("hex");
  const blob = { type: "blob", sha256: sha, data: program.toString("base64") };
  const artifacts = (name: string, s = sha, arch = "x86_64") => ({ type: "artifacts", artifacts: { [arch]: { [name]: { sha256: s, size: program.length } } }, binaries: [name], seconds: 1 });

  async function refusal(sandbox: Sandbox): Promise<string> {
    const commit = await attackCommit();
    const cfg = await loadConfigOrThrow(path.join(repo, "deploy.toml"), "prod");
    const e = await sandboxedBuild({ dir: repo, configFile: path.join(repo, "deploy.toml"), commit }, () => sandbox)(cfg, ["x86_64"], silent([])).then(() => null, (err: Error) => err);
    return e?.message ?? "no error";
  }

  test("a well-formed answer is taken: the program kept under the sha256 computed here", async () => {
    const commit = await attackCommit();
    const cfg = await loadConfigOrThrow(path.join(repo, "deploy.toml"), "prod");
    const b = await sandboxedBuild({ dir: repo, configFile: path.join(repo, "deploy.toml"), commit }, () => answering(blob, artifacts("evil"), { type: "done" }))(cfg, ["x86_64"], silent([]));
    expect(b.artifacts.x86_64!.binaries.evil!.sha256).toBe(sha);
    expect(readFileSync(b.artifacts.x86_64!.binaries.evil!.path)).toEqual(program);
    expect(cfg.build.binaries).toEqual(["evil"]);
  });

  test("a name that is a path, a sha256 it did not send, a wrong sha256, another arch, junk, no answer: refused, each saying why", async () => {
    expect(await refusal(answering(blob, artifacts("../../etc/cron.d/x"), { type: "done" }))).toContain("not plain names");
    expect(await refusal(answering(artifacts("evil", "f".repeat(64)), { type: "done" }))).toContain("which it did not send");
    expect(await refusal(answering({ ...blob, sha256: "0".repeat(64) }))).toContain(`sha256 is ${sha.slice(0, 12)}, not the 000000000000 it said`);
    expect(await refusal(answering(blob, artifacts("evil", sha, "aarch64"), { type: "done" }))).toContain("built for aarch64, not x86_64");
    expect(await refusal(answering({ type: "exec", argv: ["sh"] }))).toContain("not a build message");
    expect(await refusal(answering(blob))).toBe("the build sandbox ended without an answer");
  });
});
