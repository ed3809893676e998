/**
 * What a push's progress looks like on a terminal, without a VM: a real cold `go build` of
 * examples/hello (fresh GOCACHE), then a real upload to three "hosts" at once (three SSH
 * connections to the test suite's local OpenSSH server), then a fake fleet's wave with its
 * wait for health. Through the same events and Output as `qdeploy push`.
 *
 *   tmux new -d -s demo -x 120 -y 30 'bun scripts/progress-demo.ts; sleep 30'
 *   sleep 8; tmux capture-pane -p -t demo        # mid-build; again later for the uploads
 *
 * Off a terminal (`bun scripts/progress-demo.ts | cat`) it prints today's timestamped lines.
 * DEMO_WARM=1 keeps the normal Go build cache (a fast build).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildForArchs } from "../src/build/builds.ts";
import { createOutput, printEvents } from "../src/output.ts";
import type { HostPlan } from "../src/plan/steps.ts";
import type { Remote } from "../src/remote/remote.ts";
import { runBatch, runHostPlan } from "../src/remote/run-plan.ts";
import { connectSsh } from "../src/remote/ssh.ts";
import { helloConfig } from "../test/fixtures/config.ts";
import { startSshd } from "../test/local-sshd.ts";

const repo = path.resolve(import.meta.dir, "..");
const tmp = mkdtempSync(path.join(tmpdir(), "qdeploy-demo-"));
if (!process.env.DEMO_WARM) process.env.GOCACHE = path.join(tmp, "gocache");
const out = createOutput();
const ev = printEvents(out);
const cfg = { ...helloConfig, root: tmp, build: { ...helloConfig.build, dir: path.join(repo, "examples/hello") } };

try {
  // 1. The build (the spinner: seconds and the package go compiles).
  await buildForArchs(cfg, ["x86_64"], ev);

  // 2. Three hosts' uploads at once (a block of live lines, one per host).
  const sshd = await startSshd();
  const blob = path.join(tmp, "blob");
  writeFileSync(blob, randomBytes(96 << 20)); // incompressible, so loopback takes a few seconds
  const sha = new Bun.CryptoHasher("sha256").update(await Bun.file(blob).arrayBuffer()).digest("hex");
  const hosts = ["host-a", "host-b", "host-c"];
  const remotes = await Promise.all(
    hosts.map((h) => connectSsh({ user: "root", host: "127.0.0.1", port: sshd.port, label: h }, { identity: sshd.identity, knownHosts: sshd.knownHosts, hostKey: "strict" })),
  );
  const rdir = (await remotes[0]!.exec(["mktemp", "-d"])).stdout.trim();
  await Promise.all(
    remotes.map((r, i) => {
      const plan: HostPlan = {
        host: { user: "root", host: "127.0.0.1", port: sshd.port, label: hosts[i]! },
        arch: "x86_64",
        setup: [],
        release: [],
        activate: [],
        notes: [],
        upload: [{ kind: "upload", local: blob, remote: `${rdir}/${hosts[i]}`, sha256: sha, size: 96 << 20, why: "hello (linux/amd64)" }],
      };
      return runHostPlan(r, plan, ev);
    }),
  );

  // 3. A wave of two hosts waiting for health (the switch script's lines, played by a fake).
  ev({ type: "wave", wave: 2, waves: 3, hosts: ["host-b", "host-c"] });
  const fake = (label: string, port: number, secs: number): Remote => ({
    label,
    async exec(_argv, opts = {}) {
      opts.onStdout?.(`starting hello-web@${port}.service (20261202170000)\n`);
      await Bun.sleep(secs * 1000);
      opts.onStdout?.(`healthy: hello-web@${port}.service answers /healthz\nlive: 20261202170000\n`);
      return { code: 0, stdout: "", stderr: "" };
    },
    write: async () => {},
    upload: async () => ({ bytesSent: 0 }),
    close: async () => {},
  });
  await Promise.all([runBatch(fake("host-b", 8001, 2.5), [{ kind: "run", argv: ["switch"], why: "switch" }], ev), runBatch(fake("host-c", 8002, 4), [{ kind: "run", argv: ["switch"], why: "switch" }], ev)]);
  await Promise.all(remotes.map((r) => r.close()));
  await sshd.stop();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
