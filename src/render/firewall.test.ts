import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { helloConfig as cfg } from "../../test/fixtures/config.ts";
import { requireTool } from "../../test/tools.ts";
import { FIREWALL, renderFirewallPorts, renderFirewallUnit } from "./firewall.ts";

const script = join(import.meta.dir, "../../server/firewall.sh");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "qdeploy-fw-"));
  dirs.push(d);
  return d;
};

describe("renderFirewallPorts", () => {
  test("the app's TCP ports, one line; null with the firewall off", () => {
    expect(renderFirewallPorts(cfg)).toBe("22 80 443\n");
    expect(renderFirewallPorts({ ...cfg, firewall: { allow: [80, 443, 2222] } })).toBe("80 443 2222\n");
    expect(renderFirewallPorts({ ...cfg, firewall: null })).toBeNull();
    expect(() => renderFirewallPorts({ ...cfg, firewall: { allow: [0] } })).toThrow("not a TCP port");
  });
});

describe("qdeploy-firewall.service", () => {
  test("verifies with no output (systemd-analyze)", () => {
    for (const tool of ["systemd-analyze", "nft"]) requireTool(tool);
    const root = tempDir();
    cpSync("/usr/lib/systemd/system", join(root, "usr/lib/systemd/system"), { recursive: true });
    mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
    writeFileSync(join(root, FIREWALL.unit), renderFirewallUnit());
    for (const exe of [FIREWALL.apply, "/usr/sbin/nft"]) {
      mkdirSync(dirname(join(root, exe)), { recursive: true });
      writeFileSync(join(root, exe), "#!/bin/sh\n");
      chmodSync(join(root, exe), 0o755);
    }
    const r = Bun.spawnSync(["systemd-analyze", "verify", `--root=${root}`, FIREWALL.unitName], { stdout: "pipe", stderr: "pipe" });
    expect(`${r.stdout}${r.stderr}${r.exitCode ? `exit ${r.exitCode}` : ""}`).toBe("");
  });
});

// The real nft applies the script's ruleset, in a network namespace of its own (unshare -n):
// this machine's firewall is never touched.
describe("server/firewall.sh with the real nft", () => {
  const canRun = process.getuid?.() === 0;
  test("admits the union of every app's ports and sshd's, replaces only its own table, twice in a row", () => {
    requireTool("nft");
    requireTool("unshare");
    if (!canRun) throw new Error("needs root for a private network namespace (unshare -n)");
    const dir = tempDir();
    cpSync(script, join(dir, "apply"));
    writeFileSync(join(dir, "hello.ports"), renderFirewallPorts(cfg)!);
    writeFileSync(join(dir, "other.ports"), renderFirewallPorts({ ...cfg, app: "other", firewall: { allow: [80, 8443] } })!);
    const sshd = Bun.spawnSync(["sshd", "-T"], { stdout: "pipe", stderr: "pipe" }).stdout.toString();
    const sshPorts = [...sshd.matchAll(/^port (\d+)$/gm)].map((m) => Number(m[1]));
    const want = [...new Set([22, 80, 443, 8443, ...(sshPorts.length ? sshPorts : [22])])].sort((a, b) => a - b);
    const r = Bun.spawnSync(
      ["unshare", "-n", "bash", "-c", `set -e; nft add table inet mine; env -u SSH_CONNECTION bash ${dir}/apply; bash ${dir}/apply >/dev/null; nft list ruleset`],
      { stdout: "pipe", stderr: "pipe", env: { ...process.env, SSH_CONNECTION: "10.0.2.2 5555 10.0.2.15 2200" } },
    );
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    const out = r.stdout.toString();
    expect(out.split("\n")[0]).toBe(`firewall: inbound TCP ${want.join(", ")}, UDP 443; everything else dropped`);
    expect(out).toContain("table inet mine {"); // the host's own table is left alone
    expect(out.match(/table inet qdeploy \{/g)?.length).toBe(1);
    expect(out).toContain("type filter hook input priority filter; policy drop;");
    // The second run came over SSH on port 2200: that session's port is admitted too.
    expect(out).toContain(`tcp dport { ${[...want, 2200].sort((a, b) => a - b).join(", ")} } accept`);
    expect(out).toContain('udp dport 443 accept comment "HTTP/3"');
    expect(out).toContain('iif "lo" accept');
    expect(out).toContain("ct state established,related accept");
  });

  test("refuses a ports file that is not ports, and leaves the old table in place", () => {
    requireTool("nft");
    requireTool("unshare");
    if (!canRun) throw new Error("needs root for a private network namespace (unshare -n)");
    const dir = tempDir();
    cpSync(script, join(dir, "apply"));
    writeFileSync(join(dir, "bad.ports"), "80; flush ruleset\n");
    const r = Bun.spawnSync(["unshare", "-n", "bash", "-c", `bash ${dir}/apply; echo "rc=$?"; nft list ruleset`], { stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toContain("firewall: bad port");
    expect(r.stdout.toString()).toBe("rc=1\n");
  });
});
