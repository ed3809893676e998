// `npm test` on a machine that lacks the test tools: test/setup-tools.ts must fail naming
// every program and its package, never let the suite start and skip. Simulated here: a PATH
// holding only bun, /usr/sbin hidden under an empty tmpfs (a private mount namespace), and
// a non-root user, so it cannot apt-get them.
import { expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GO_HINT, requireTool, TEST_TOOLS } from "./tools.ts";

test("on a machine without the tools, the setup fails naming each program and its package", () => {
  if (process.getuid?.() !== 0) throw new Error("this test needs root: it hides /usr/sbin in a private mount namespace");
  const [unshare, setpriv] = [requireTool("unshare"), requireTool("setpriv")];
  const bin = mkdtempSync(join(tmpdir(), "qdeploy-nobin-"));
  try {
    chmodSync(bin, 0o755); // the unprivileged user must reach bun
    symlinkSync(process.execPath, join(bin, "bun"));
    const script = join(import.meta.dir, "setup-tools.ts");
    const r = Bun.spawnSync(
      [unshare, "-m", "--propagation", "private", "sh", "-c", 'mount -t tmpfs none /usr/sbin && exec "$@"', "sh",
        setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "env", "-i", `PATH=${bin}`, "HOME=/tmp", "bun", script],
      { stdout: "pipe", stderr: "pipe" },
    );
    const err = r.stderr.toString();
    expect(err).toStartWith("npm test needs programs this machine lacks (Debian package: programs):\n");
    for (const [cmd, pkg] of Object.entries(TEST_TOOLS)) {
      // The systemd binary sits outside PATH and /usr/sbin, so it is still found; its package is named for systemctl.
      if (cmd.startsWith("/")) continue;
      expect(err).toMatch(new RegExp(`^  ${pkg}: (.*, )?${cmd.replaceAll(".", "\\.")}(,|$)`, "m"));
    }
    expect(err).toContain(`  go: ${GO_HINT}\n`);
    expect(err).toContain("sudo apt-get install -y age bash bsdutils bubblewrap caddy chromium coreutils curl e2fsprogs file fish git mmdebstrap nftables openssh-client openssh-server qemu-system-x86 qemu-utils systemd util-linux zsh zstd)");
    expect(r.stdout.toString()).toBe("");
    expect(r.exitCode).toBe(1);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test("requireTool names the program and its package", () => {
  expect(() => requireTool("caddy-not-here")).toThrow("this test needs caddy-not-here, which is not installed (Debian package ?)");
  const saved = process.env.PATH;
  process.env.PATH = "/nonexistent";
  try {
    expect(() => requireTool("caddy")).toThrow("this test needs caddy, which is not installed (Debian package caddy); `npm test` installs what it can");
    expect(() => requireTool("go")).toThrow(`this test needs go, which is not installed (${GO_HINT})`);
    expect(requireTool("sshd")).toBe("/usr/sbin/sshd"); // sbin is searched even when PATH lacks it
  } finally {
    process.env.PATH = saved;
  }
});
