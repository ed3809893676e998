/**
 * Several binaries per app on the sandbox: examples/heroku's three programs (build.main
 * from go.mod's `// +heroku install ./cmd/...`) become bin/web, bin/worker and bin/migrate
 * of one release; changing one program uploads only that binary again.
 */
import { beforeAll, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SandboxInfo } from "../../src/sandbox/index.ts";
import { cleanApp, get, ok, onVmOk, qdeploy, REPO, sandbox } from "./harness.ts";

const MIN = 60_000;
let vm: SandboxInfo;
let dir: string;
const env = {};

beforeAll(async () => {
  vm = await sandbox();
  dir = mkdtempSync(path.join(tmpdir(), "qdeploy-e2e-multi-"));
  cpSync(path.join(REPO, "examples/heroku"), dir, { recursive: true });
  // The release phase is another part's: here the Procfile's web and worker only, by bin/NAME and NAME.
  rmSync(path.join(dir, "Procfile"));
  writeFileSync(
    path.join(dir, "deploy.toml"),
    `app = "multi"

[processes]
web = "bin/web"
worker = "worker --queue default"

[web]
domains = ["multi.localhost"]
health = "/healthz"
tls = "internal"
drain = "5s"

[environments.sandbox]
hosts = ["root@127.0.0.1:${vm.sshPort}"]
ssh = { identity = ${JSON.stringify(vm.identity)}, known_hosts = ${JSON.stringify(vm.knownHosts)} }
`,
  );
  await cleanApp(vm, "multi");
}, 10 * MIN);

interface Report {
  hosts: { bytesSent: number }[];
  release: string;
}

async function push(): Promise<Report & { seconds: number }> {
  const r = ok(await qdeploy(dir, ["push", "sandbox", "--json"], { env }));
  return { ...(JSON.parse(r.stdout) as Report), seconds: r.seconds };
}

// The binaries' blobs: the slug's plain files (go.mod, main.go, ...) are the SHA.r ones beside them.
const blobs = async () => (await onVmOk(vm, "ls /srv/qdeploy/multi/blobs")).split("\n").filter((b) => b && !b.endsWith(".r")).sort();

test(
  "three programs are one release; a change to one uploads only that one",
  async () => {
    const first = await push();
    const firstBlobs = await blobs();
    expect(firstBlobs).toHaveLength(3);
    const rel = `/srv/qdeploy/multi/releases/${first.release}`;
    expect((await onVmOk(vm, `ls ${rel}/bin`)).split("\n").filter(Boolean)).toEqual(["migrate", "web", "worker"]);
    const meta = JSON.parse(await onVmOk(vm, `cat ${rel}/release.json`));
    expect(Object.keys(meta.binaries).sort()).toEqual(["migrate", "web", "worker"]);
    expect(firstBlobs).toEqual(Object.values(meta.binaries as Record<string, string>).sort());
    const page = await get(vm, "/", "multi.localhost");
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/^herokuapp web go1\.\d+/);
    expect(await onVmOk(vm, "systemctl is-active multi-worker@1.service")).toBe("active\n");
    expect(await onVmOk(vm, "journalctl -u multi-worker@1.service --no-pager -o cat | grep -c 'working on queue \"default\"' || true")).not.toBe("0\n");

    // One program changes; the others build to the same bytes (reproducible builds).
    const worker = path.join(dir, "cmd/worker/main.go");
    writeFileSync(worker, readFileSync(worker, "utf8").replace("worker: stopping", "worker: stopping (v2)"));
    const second = await push();
    const secondBlobs = await blobs();
    expect(secondBlobs.filter((b) => !firstBlobs.includes(b))).toHaveLength(1);
    const meta2 = JSON.parse(await onVmOk(vm, `cat /srv/qdeploy/multi/releases/${second.release}/release.json`));
    expect(meta2.binaries.web).toBe(meta.binaries.web);
    expect(meta2.binaries.migrate).toBe(meta.binaries.migrate);
    expect(meta2.binaries.worker).not.toBe(meta.binaries.worker);
    // Only the worker went over the wire: far less than the three together.
    expect(second.hosts[0]!.bytesSent).toBeLessThan(first.hosts[0]!.bytesSent / 2);
    console.log(`[multi] bytes sent: first push ${first.hosts[0]!.bytesSent} (3 binaries, ${first.seconds.toFixed(1)}s), after changing worker ${second.hosts[0]!.bytesSent} (${second.seconds.toFixed(1)}s)`);
    expect((await get(vm, "/", "multi.localhost")).status).toBe(200);

    // Rollback goes back to the first release's links; the prune keeps every blob a release uses.
    ok(await qdeploy(dir, ["rollback", "sandbox"], { env }));
    expect((await onVmOk(vm, "readlink -f /srv/qdeploy/multi/current")).trim()).toBe(rel);
    expect(await blobs()).toEqual(secondBlobs);
  },
  15 * MIN,
);
