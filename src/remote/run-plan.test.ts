import { describe, expect, test } from "bun:test";
import { helloConfig } from "../../test/fixtures/config.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { RemoteError } from "../errors.ts";
import { createOutput } from "../output.ts";
import { freshHostFacts } from "../plan/facts.ts";
import { planPush } from "../plan/push.ts";
import type { ExecOptions, ExecResult, Remote } from "./remote.ts";
import { runPlan } from "./run-plan.ts";

const SHA = "a".repeat(64);
const hosts = [
  { host: "10.0.0.1", user: "root", label: "root@10.0.0.1" },
  { host: "10.0.0.2", user: "root", label: "root@10.0.0.2" },
];
const cfg: ResolvedConfig = { ...helloConfig, hosts, release: { command: "hello migrate", timeoutSec: 600 } };

function plan(config = cfg) {
  return planPush({
    config,
    facts: hosts.map((h) => ({ ...freshHostFacts(h, "x86_64"), caddy: true, nft: true, webPorts: [8101, 8102] as [number, number], blobs: [SHA] })),
    artifacts: { x86_64: { binaries: { hello: { path: "/b", sha256: SHA, size: 1 } } } },
    releaseId: "20261122010203",
    created: "c",
    git: null,
    who: "me",
    secrets: {},
    newDigestKey: "ab".repeat(32),
  });
}

/** A Remote that records what ran, in order across hosts; the release phase answers with `phase`. */
function recorder(label: string, log: string[], phase: { code: number; stdout?: string; stderr?: string } = { code: 0 }): Remote {
  return {
    label,
    async exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
      const script = typeof opts.stdin === "string" ? opts.stdin : "";
      if (argv[0] === "systemd-run") {
        log.push(`${label} release phase`);
        if (phase.stdout) opts.onStdout?.(phase.stdout);
        if (phase.stderr) opts.onStderr?.(phase.stderr);
        return { code: phase.code, stdout: "", stderr: "" };
      }
      log.push(`${label} ${script.includes("\n/srv/qdeploy/hello/switch activate ") ? "activate" : script.includes("qd_write /srv/qdeploy/hello/releases/20261122010203/release.json") ? "release" : "setup"}`);
      await Bun.sleep(label.endsWith("2") ? 5 : 0); // the second host is slower: the barrier must wait for it
      return { code: 0, stdout: "", stderr: "" };
    },
    write: async () => {},
    upload: async () => ({ bytesSent: 0 }),
    close: async () => {},
  };
}

function output() {
  const lines: string[] = [];
  return { lines, out: createOutput({ tty: false, verbose: false, write: (t) => lines.push(t), writeErr: (t) => lines.push(t) }) };
}

describe("runPlan with a release phase", () => {
  test("every host writes its release, then the phase runs once on the first, then every host switches", async () => {
    const log: string[] = [];
    const p = plan();
    await runPlan(p, hosts.map((h) => recorder(h.label, log)), output().out);
    const rel = log.filter((l) => !l.endsWith("setup"));
    expect(rel.slice(0, 2).sort()).toEqual(["root@10.0.0.1 release", "root@10.0.0.2 release"]);
    expect(rel[2]).toBe("root@10.0.0.1 release phase");
    expect(rel.slice(3).sort()).toEqual(["root@10.0.0.1 activate", "root@10.0.0.2 activate"]);
  });

  test("a failing release phase switches no host, names the command and its status; its output was shown", async () => {
    const log: string[] = [];
    const { lines, out } = output();
    const failing = { code: 3, stdout: "migrating\n", stderr: "Running as unit: x.service\nno such table\nFinished with result: exit-code\nMain processes terminated with: code=exited/status=3\n" };
    const err = await runPlan(plan(), hosts.map((h) => recorder(h.label, log, failing)), out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as Error).message).toBe(
      'root@10.0.0.1: release phase "hello migrate" exited with status 3 (code=exited/status=3); nothing was switched, the live release keeps serving',
    );
    expect(log.some((l) => l.endsWith("activate"))).toBe(false);
    const shown = lines.join("");
    expect(shown).toContain("release | migrating");
    expect(shown).toContain("release | no such table");
    expect(shown).not.toContain("Running as unit");
  });

  test("the timeout is named as such", async () => {
    const timedOut = { code: 1, stderr: "Finished with result: timeout\n" };
    const err = await runPlan(plan(), hosts.map((h) => recorder(h.label, [], timedOut)), output().out).catch((e: unknown) => e);
    expect((err as Error).message).toContain('release phase "hello migrate" timed out after 600s (release_timeout)');
  });

  test("without a release phase nothing extra runs", async () => {
    const log: string[] = [];
    await runPlan(plan({ ...cfg, release: null }), hosts.map((h) => recorder(h.label, log)), output().out);
    expect(log.filter((l) => l.includes("release phase"))).toEqual([]);
  });
});
