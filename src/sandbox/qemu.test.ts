import { describe, expect, test } from "bun:test";
import { kernelCmdline, qemuArgv, sandboxLanAddress, type VmSpec } from "./qemu.ts";
import { IMAGE_FILES, recipeKey } from "./recipe.ts";

const spec: VmSpec = {
  imageDir: "/cache/abc",
  overlay: "/p,1/.qdeploy/sandbox/overlay.qcow2",
  consoleLog: "/p/console.log",
  pidFile: "/p/qemu.pid",
  sshPort: 2222,
  httpPort: 8080,
  httpsPort: 8443,
  authorizedKey: "ssh-ed25519 AAAAC3Nz+/key=",
  accel: "tcg",
};

const after = (argv: string[], flag: string) => argv[argv.indexOf(flag) + 1];

describe("qemuArgv", () => {
  test("forwards every port on 127.0.0.1 only", () => {
    expect(after(qemuArgv(spec), "-nic")).toBe(
      "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp:127.0.0.1:8443-:443",
    );
  });

  test("the probe port, when given, forwards to the guest's 8999, on 127.0.0.1 too", () => {
    expect(after(qemuArgv({ ...spec, probePort: 8232 }), "-nic")).toEndWith(",hostfwd=tcp:127.0.0.1:8443-:443,hostfwd=tcp:127.0.0.1:8232-:8999");
  });

  test("TCG by default, KVM on request; never -no-reboot (a guest reboot must come back)", () => {
    expect(after(qemuArgv(spec), "-accel")).toBe("tcg,thread=multi");
    expect(after(qemuArgv({ ...spec, accel: "kvm" }), "-accel")).toBe("kvm");
    expect(qemuArgv(spec)).not.toContain("-no-reboot");
  });

  test("the private network: a second NIC on a multicast hub bound to 127.0.0.1, its MAC naming the VM; the image gives that MAC its address", () => {
    expect(qemuArgv(spec)).not.toContain("-netdev");
    const argv = qemuArgv({ ...spec, lan: { port: 22222, vm: 3 } });
    expect(after(argv, "-netdev")).toBe("socket,id=lan,mcast=230.0.0.1:22222,localaddr=127.0.0.1");
    expect(after(argv, "-device")).toBe("virtio-net-pci,netdev=lan,mac=52:54:00:99:00:03");
    const file = IMAGE_FILES.find((f) => f.path === "/etc/systemd/network/10-qdeploy-lan-3.network")!;
    expect(file.content).toBe("[Match]\nMACAddress=52:54:00:99:00:03\n\n[Network]\nAddress=10.99.0.3/24\nLinkLocalAddressing=no\n");
    expect(sandboxLanAddress(3)).toBe("10.99.0.3");
  });

  test("a fleet's VM has its own process name", () => {
    expect(after(qemuArgv(spec), "-name")).toBe("qdeploy-sandbox");
    expect(after(qemuArgv({ ...spec, name: "qdeploy-sandbox-vm2" }), "-name")).toBe("qdeploy-sandbox-vm2");
  });

  test("2 virtual CPUs unless told", () => {
    expect(after(qemuArgv(spec), "-smp")).toBe("2");
    expect(after(qemuArgv({ ...spec, cpus: 1 }), "-smp")).toBe("1");
  });

  test("escapes commas in the disk path", () => {
    expect(after(qemuArgv(spec), "-drive")).toBe("file=/p,,1/.qdeploy/sandbox/overlay.qcow2,if=virtio,format=qcow2");
  });

  test("passes root's key on the kernel command line without spaces", () => {
    expect(kernelCmdline(spec.authorizedKey)).toBe(
      "root=/dev/vda rw console=ttyS0 tsc=reliable qdeploy.authorized_key=ssh-ed25519_AAAAC3Nz+/key=",
    );
  });
});

test("the recipe key is stable and short", () => {
  expect(recipeKey()).toMatch(/^[0-9a-f]{16}$/);
  expect(recipeKey()).toBe(recipeKey());
});
