import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
  /** A folder holding the script as `apply`, once nft, unshare and root are there. */
  const scriptInNamespaceDir = () => {
    requireTool("nft");
    requireTool("unshare");
    if (!canRun) throw new Error("needs root for a private network namespace (unshare -n)");
    const dir = tempDir();
    cpSync(script, join(dir, "apply"));
    return dir;
  };
  test("admits the union of every app's ports and sshd's, replaces only its own table, twice in a row", () => {
    const dir = scriptInNamespaceDir();
    writeFileSync(join(dir, "hello.ports"), renderFirewallPorts(cfg)!);
    writeFileSync(join(dir, "other.ports"), renderFirewallPorts({ ...cfg, app: "other", firewall: { allow: [80, 8443] } })!);
    const sshd = Bun.spawnSync(["sshd", "-T"], { stdout: "pipe", stderr: "pipe" }).stdout.toString();
    const sshPorts = [...sshd.matchAll(/^(?:port (\d+)|listenaddress \S+:(\d+))/gm)].map((m) => Number(m[1] ?? m[2]));
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

  test("an add-on's .from file admits its port from those addresses alone, IPv4 and IPv6 apart; a bad address is refused", () => {
    const dir = scriptInNamespaceDir();
    writeFileSync(join(dir, "hello.ports"), renderFirewallPorts(cfg)!);
    writeFileSync(join(dir, "hello.addon-db.from"), "5432 10.99.0.1 10.99.0.2 fd00:0000:0000:0000:0000:0000:0000:0002\n");
    const r = Bun.spawnSync(["unshare", "-n", "bash", "-c", `bash ${dir}/apply; nft list ruleset`], { stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const out = r.stdout.toString();
    expect(out.split("\n")[0]).toEndWith("; add-ons from their hosts only; everything else dropped");
    expect(out).toContain('ip saddr { 10.99.0.1, 10.99.0.2 } tcp dport 5432 accept comment "hello.addon-db.from"');
    expect(out).toContain('ip6 saddr fd00::2 tcp dport 5432 accept comment "hello.addon-db.from"');
    expect(out).not.toMatch(/tcp dport \{[^}]*5432/); // not among the ports open to all

    writeFileSync(join(dir, "hello.addon-db.from"), "5432 10.99.0.1; flush ruleset\n");
    const bad = Bun.spawnSync(["unshare", "-n", "bash", "-c", `bash ${dir}/apply; echo "rc=$?"`], { stdout: "pipe", stderr: "pipe" });
    expect(bad.stderr.toString()).toContain("firewall: bad address 10.99.0.1\\; in");
    expect(bad.stdout.toString()).toBe("rc=1\n");
  });

  test("refuses a ports file that is not ports, and leaves the old table in place", () => {
    const dir = scriptInNamespaceDir();
    writeFileSync(join(dir, "bad.ports"), "80; flush ruleset\n");
    const r = Bun.spawnSync(["unshare", "-n", "bash", "-c", `bash ${dir}/apply; echo "rc=$?"; nft list ruleset`], { stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toContain("firewall: bad port");
    expect(r.stdout.toString()).toBe("rc=1\n");
  });
});

// The SSH ports the script admits are the ports sshd listens on. Its `sshd -T` is a stand-in on
// PATH: the real sshd reading a config of the test's (so the lines are what OpenSSH really
// prints), or fixed text for what this sshd cannot print; nft is a stand-in that keeps the
// ruleset, so nothing is applied and no root is needed for the script itself.
describe("server/firewall.sh: the SSH ports are sshd's (port and listenaddress lines)", () => {
  /** Runs a copy of the script with `sshd` printing what `sshdBody` does; the admitted TCP ports, sorted. */
  function admitted(sshdBody: string) {
    const dir = tempDir();
    cpSync(script, join(dir, "apply"));
    mkdirSync(join(dir, "tools"));
    writeFileSync(join(dir, "tools", "sshd"), `#!/bin/sh\n${sshdBody}\n`, { mode: 0o755 });
    writeFileSync(join(dir, "tools", "nft"), `#!/bin/sh\ncat > '${dir}/ruleset'\n`, { mode: 0o755 });
    // No SSH_CONNECTION: as at boot, where no session's port is added.
    const r = Bun.spawnSync([requireTool("bash"), join(dir, "apply")], {
      env: { PATH: `${join(dir, "tools")}:/usr/bin:/bin` },
      stdout: "pipe",
      stderr: "pipe",
    });
    if (r.exitCode !== 0) return { code: r.exitCode, err: r.stderr.toString() };
    const line = /tcp dport \{ ([0-9, ]+) \} accept/.exec(readFileSync(join(dir, "ruleset"), "utf8"));
    return { code: 0, err: r.stderr.toString(), ports: line ? line[1]!.split(", ").map(Number).sort((a, b) => a - b) : [] };
  }

  /** A stand-in that is the real sshd reading `config` (plus a host key, which -T wants). */
  function realSshd(config: string): string {
    const sshd = requireTool("sshd");
    const dir = tempDir();
    const gen = Bun.spawnSync([requireTool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", join(dir, "hostkey")], { stderr: "pipe" });
    if (gen.exitCode !== 0) throw new Error(`ssh-keygen: ${gen.stderr}`);
    writeFileSync(join(dir, "sshd_config"), `${config}\nHostKey ${join(dir, "hostkey")}\n`);
    return `exec '${sshd}' -f '${join(dir, "sshd_config")}' "$@"`;
  }

  // [sshd_config, ports admitted]. sshd -T always prints `port 22` unless Port says otherwise,
  // even when every ListenAddress names its own port (sshd then does not listen on 22): the
  // union admits 22 as well, as firewall.allow's default does anyway.
  const table: [string, number[]][] = [
    ["", [22]],
    ["Port 2200", [2200]],
    ["ListenAddress 0.0.0.0:2222", [22, 2222]],
    ["ListenAddress [::]:2222", [22, 2222]],
    ["ListenAddress 0.0.0.0:2222\nListenAddress [::]:2222", [22, 2222]],
    ["Port 2200\nListenAddress 0.0.0.0\nListenAddress 127.0.0.1:2201\nListenAddress [::1]:2202", [2200, 2201, 2202]],
  ];
  for (const [config, ports] of table) {
    test(`real sshd -T with ${JSON.stringify(config || "(defaults)")}: TCP ${ports.join(", ")}`, () => {
      expect(admitted(realSshd(config))).toEqual({ code: 0, err: "", ports });
    });
  }

  test("a listenaddress with a routing domain (OpenSSH 7.8+ prints ` rdomain NAME` after it)", () => {
    const out = "port 22\nlistenaddress [::]:22\nlistenaddress 10.0.0.5:2222 rdomain vrf-mgmt\nlistenaddress [fe80::1%eth0]:2223";
    expect(admitted(`printf '%s\\n' '${out.split("\n").join("' '")}'`)).toEqual({ code: 0, err: "", ports: [22, 2222, 2223] });
  });

  test("sshd -T failing (a broken config): port 22", () => {
    expect(admitted("echo 'sshd: bad config' >&2; exit 255")).toEqual({ code: 0, err: "", ports: [22] });
  });

  test("a listenaddress whose port is not a number is refused, naming it", () => {
    const r = admitted("printf 'port 22\\nlistenaddress 0.0.0.0:ssh\\n'");
    expect(r.code).toBe(1);
    expect(r.err).toContain("firewall: bad port ssh");
  });
});
