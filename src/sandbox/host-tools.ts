/**
 * The host programs the sandbox needs, and installing them on Debian when we are root.
 */
import { existsSync } from "node:fs";
import { OperationError } from "../errors.ts";
import { runOk } from "./run.ts";

/** Command -> the Debian package that provides it. */
const IMAGE_TOOLS: Record<string, string> = {
  mmdebstrap: "mmdebstrap",
  "mkfs.ext4": "e2fsprogs",
  "ssh-keygen": "openssh-client",
};

const VM_TOOLS: Record<string, string> = {
  "qemu-system-x86_64": "qemu-system-x86",
  "qemu-img": "qemu-utils",
  ssh: "openssh-client",
  "ssh-keygen": "openssh-client",
};

/** Which of the tools are missing from PATH (and from the sbin dirs a non-root PATH lacks). */
export function missingPackages(tools: Record<string, string>): string[] {
  const missing = Object.entries(tools)
    .filter(([cmd]) => !Bun.which(cmd) && !existsSync(`/usr/sbin/${cmd}`) && !existsSync(`/sbin/${cmd}`))
    .map(([, pkg]) => pkg);
  return [...new Set(missing)].sort();
}

/** Ensures the tools to build the image are present, installing them with apt-get if we can. */
export async function ensureImageTools(log: (l: string) => void): Promise<void> {
  await ensurePackages({ ...IMAGE_TOOLS, ...VM_TOOLS }, log);
}

/** Ensures the tools to run the VM are present, installing them with apt-get if we can. */
export async function ensureVmTools(log: (l: string) => void): Promise<void> {
  await ensurePackages(VM_TOOLS, log);
}

/**
 * The sandbox boots a Debian VM with qemu-system-x86_64 and builds its disk with mmdebstrap
 * and mkfs.ext4: Linux's tools. Elsewhere (a Mac) it says so before anything starts.
 */
export function sandboxPlatformProblem(platform: NodeJS.Platform = process.platform): string | null {
  if (platform === "linux") return null;
  return `the sandbox needs Linux with QEMU (it builds a Debian image with mmdebstrap and boots it with qemu-system-x86_64), and this is ${platform}: run it in a Linux VM, or push to a real server (everything else qdeploy does works from here)`;
}

async function ensurePackages(tools: Record<string, string>, log: (l: string) => void): Promise<void> {
  const platform = sandboxPlatformProblem();
  if (platform) throw new OperationError(platform);
  const pkgs = missingPackages(tools);
  if (pkgs.length === 0) return;
  const canApt = process.getuid?.() === 0 && existsSync("/etc/debian_version") && Bun.which("apt-get");
  if (!canApt) {
    throw new OperationError(
      `the sandbox needs programs this machine lacks: install the Debian/Ubuntu packages ${pkgs.join(" ")} ` +
        `(e.g. sudo apt-get install -y ${pkgs.join(" ")}) and run the command again`,
    );
  }
  log(`installing ${pkgs.join(" ")} (apt-get)...`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  await runOk(["apt-get", "update", "-q"], "apt-get update", { env, timeoutMs: 600_000 });
  await runOk(["apt-get", "install", "-y", "-q", ...pkgs], `apt-get install ${pkgs.join(" ")}`, {
    env,
    timeoutMs: 1_200_000,
  });
}
