/**
 * The benchmark's slug row (bench/run.ts runs it after the one-host part, on the same VM):
 * examples/slug, an app that ships its templates, static files and migrations, pushed
 * unchanged, after a one-template change, and after a one-line Go change; bytes sent and the
 * CLI's total seconds for each, no load. `bun bench/slug.ts` runs it alone on the bench's VM.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SandboxInfo } from "../src/sandbox/index.ts";
import { onVm, REPO } from "../test/e2e/harness.ts";

export interface SlugBenchOptions {
  info: SandboxInfo;
  /** Runs bin/qdeploy in a folder (bench/run.ts's cli); env adds variables. */
  cli: (cwd: string, args: string[], env?: Record<string, string>) => Promise<{ code: number; stdout: string; stderr: string }>;
  log: (line: string) => void;
  /** Pushes of each kind (default 3). */
  runs: number;
}

type Kind = "unchanged" | "one template" | "one Go line";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The slug section of RESULTS.md. */
export async function benchSlug(o: SlugBenchOptions): Promise<string[]> {
  const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-bench-slug-"));
  const run = (...cmd: string[]) => {
    const r = Bun.spawnSync(cmd, { cwd: dir, stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr.toString()}`);
  };
  const git = (...a: string[]) => run("git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", ...a);
  try {
    cpSync(path.join(REPO, "examples/slug"), dir, { recursive: true });
    run("go", "mod", "vendor");
    writeFileSync(
      path.join(dir, "deploy.toml"),
      `app = "slugapp"

[build]
main = "./cmd/..."
cgo = true

[web]
health = "/healthz"
drain = "5s"

[secrets]
store = "env"
names = ["SESSION_SECRET"]

[environments.sandbox]
hosts = ["root@127.0.0.1:${o.info.sshPort}"]
ssh = { identity = ${JSON.stringify(o.info.identity)}, known_hosts = ${JSON.stringify(o.info.knownHosts)} }
web = { domains = ["slugapp.localhost"], tls = "internal" }
`,
    );
    git("init", "-q");
    git("add", ".");
    git("commit", "-qm", "bench");
    await onVm(o.info, ["bash", "-c", "systemctl stop 'slugapp-*' 2>/dev/null; rm -rf /srv/qdeploy/slugapp /etc/caddy/qdeploy/slugapp.caddy /var/lib/private/slugapp; true"]);
    const env = { SESSION_SECRET: "bench-session-secret" };
    const push = async (kind: Kind | "first") => {
      const r = await o.cli(dir, ["push", "sandbox", "--json"], env);
      if (r.code !== 0) throw new Error(`slug bench: push (${kind}) failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-800)}`);
      const report = JSON.parse(r.stdout) as { seconds: { total: number; build: number }; hosts: { bytesSent: number }[] };
      o.log(`slug: push (${kind}): ${report.seconds.total.toFixed(1)}s (build wait ${report.seconds.build.toFixed(1)}s), ${report.hosts[0]!.bytesSent} bytes`);
      return { total: report.seconds.total, build: report.seconds.build, bytes: report.hosts[0]!.bytesSent };
    };
    const first = await push("first");
    const edit = (file: string, from: RegExp, to: string) => {
      const p = path.join(dir, file);
      writeFileSync(p, readFileSync(p, "utf8").replace(from, to));
    };
    const rows: Record<Kind, Awaited<ReturnType<typeof push>>[]> = { unchanged: [], "one template": [], "one Go line": [] };
    for (let i = 1; i <= o.runs; i++) {
      rows.unchanged.push(await push("unchanged"));
      edit("templates/index.tmpl.html", /slugapp template v\d+/, `slugapp template v${i + 1}`);
      git("commit", "-qam", `template ${i}`);
      rows["one template"].push(await push("one template"));
      edit("cmd/web/main.go", /log\.Printf\("listening on :%s[^"]*", port\)/, `log.Printf("listening on :%s (${i})", port)`);
      git("commit", "-qam", `go ${i}`);
      rows["one Go line"].push(await push("one Go line"));
    }
    return [
      "## The slug", "",
      `examples/slug (templates, static files, public/, migrations/, a cgo release phase; ${o.runs} pushes of each kind, no load, on the VM above): what a push sends when the commit changes one template, one line of Go (cmd/web), or nothing. The first push sent ${first.bytes.toLocaleString("en")} bytes in ${first.total.toFixed(1)} s. Seconds are the CLI's total (build included); the build runs while the hosts are reached and locked, and "build wait" is what the push still waited for it after that.`, "",
      "| change | bytes sent (median) | push, median (s) | runs (s) | build wait, median (s) |",
      "| --- | ---: | ---: | --- | ---: |",
      ...(Object.entries(rows) as [Kind, Awaited<ReturnType<typeof push>>[]][]).map(
        ([kind, runs]) =>
          `| ${kind} | ${median(runs.map((r) => r.bytes)).toLocaleString("en")} | ${median(runs.map((r) => r.total)).toFixed(1)} | ${runs.map((r) => r.total.toFixed(1)).join(", ")} | ${median(runs.map((r) => r.build)).toFixed(1)} |`,
      ),
      "",
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
