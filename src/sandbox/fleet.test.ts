import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fleetPorts, knownHostsText, sandboxFleetStatus, sandboxFleetUp, sandboxStatus } from "./index.ts";

const base = { sshPort: 2222, httpPort: 8080, httpsPort: 8443 };

describe("fleetPorts", () => {
  test("VM k forwards each base port + k-1", () => {
    expect(fleetPorts(base, 3)).toEqual([
      { sshPort: 2222, httpPort: 8080, httpsPort: 8443 },
      { sshPort: 2223, httpPort: 8081, httpsPort: 8444 },
      { sshPort: 2224, httpPort: 8082, httpsPort: 8445 },
    ]);
  });

  test("the probe port too, when there is one", () => {
    expect(fleetPorts({ ...base, probePort: 9522 }, 2).map((p) => p.probePort)).toEqual([9522, 9523]);
    expect(fleetPorts(base, 2).every((p) => !("probePort" in p))).toBe(true);
  });

  test("two VMs on one port are refused, naming both", () => {
    expect(() => fleetPorts({ sshPort: 8080, httpPort: 8081, httpsPort: 8443 }, 2)).toThrow(
      "sandbox VM 2's ssh port and VM 1's http port would both be 8081: space the base ports at least 2 apart",
    );
    expect(() => fleetPorts({ ...base, sshPort: 65535 }, 2)).toThrow("sandbox VM 2's ssh port would be 65536: lower the base port");
  });
});

test("known_hosts lists every VM's port with the one host key, in VM order", () => {
  const hostKey = "ssh-ed25519 AAAAkey";
  const states = new Map([
    [3, { sshPort: 2224, hostKey }],
    [1, { sshPort: 2222, hostKey }],
    [2, { sshPort: 22, hostKey }],
  ]);
  expect(knownHostsText(states)).toBe("[127.0.0.1]:2222 ssh-ed25519 AAAAkey\n127.0.0.1 ssh-ed25519 AAAAkey\n[127.0.0.1]:2224 ssh-ed25519 AAAAkey\n");
});

describe("fleet status without VMs", () => {
  test("lists VM 1 and each vmK folder, in order, not running, on their ports", async () => {
    const dir = mkdtempSync(join(tmpdir(), "qdeploy-fleet-status-"));
    try {
      for (const d of ["vm3", "vm2", "vmx", "vm10"]) mkdirSync(join(dir, ".qdeploy/sandbox", d), { recursive: true });
      const all = await sandboxFleetStatus({ projectDir: dir, ...base });
      expect(all.map((i) => [i.vm, i.running, i.sshPort, i.httpsPort])).toEqual([
        [1, false, 2222, 8443],
        [2, false, 2223, 8444],
        [3, false, 2224, 8445],
      ]);
      expect(all[2]!.stateDir).toBe(join(dir, ".qdeploy/sandbox/vm3"));
      // One key and one known_hosts for every VM.
      expect(new Set(all.map((i) => i.knownHosts))).toEqual(new Set([join(dir, ".qdeploy/sandbox/known_hosts")]));
      expect((await sandboxStatus({ projectDir: dir, ...base }, 2)).sshPort).toBe(2223);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("a fleet has 1 to 9 VMs", async () => {
  for (const hosts of [0, 10, 1.5]) {
    await expect(sandboxFleetUp({ projectDir: "/nonexistent", hosts })).rejects.toThrow(`a sandbox fleet has 1 to 9 VMs, not ${hosts}`);
  }
});
