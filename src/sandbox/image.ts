/**
 * Builds the sandbox's base image once and caches it by recipe hash:
 * `${XDG_CACHE_HOME:-~/.cache}/qdeploy/sandbox/<key>/{base.img,vmlinuz,initrd.img,ssh_host_ed25519_key.pub}`.
 */
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OperationError } from "../errors.ts";
import { cacheDir } from "../util/dirs.ts";
import { ensureImageTools } from "./host-tools.ts";
import { DISABLE_UNITS, ENABLE_UNITS, IMAGE_FILES, IMAGE_SIZE, MASK_UNITS, mmdebstrapArgv, recipeKey } from "./recipe.ts";
import { processAlive } from "./qemu.ts";
import { runOk } from "./run.ts";

/** The files every complete cache directory holds. */
export const IMAGE_PARTS = ["base.img", "vmlinuz", "initrd.img", "ssh_host_ed25519_key.pub"];

/** Where cached images live (src/util/dirs.ts). */
export function sandboxCacheRoot(): string {
  return join(cacheDir(), "sandbox");
}

/** The cache directory of the current recipe, and whether it is complete. */
export function cachedImage(): { key: string; dir: string; ready: boolean } {
  const key = recipeKey();
  const dir = join(sandboxCacheRoot(), key);
  return { key, dir, ready: IMAGE_PARTS.every((p) => existsSync(join(dir, p))) };
}

/** Returns the cached image for the current recipe, building it first if it is missing. */
export async function ensureSandboxImage(
  log: (l: string) => void = () => {},
): Promise<{ dir: string; built: boolean; seconds: number }> {
  const { key, dir, ready } = cachedImage();
  if (ready) return { dir, built: false, seconds: 0 };
  await ensureImageTools(log);
  if (process.getuid?.() !== 0) {
    throw new OperationError(
      `the sandbox image is not built yet (${dir}) and building it needs root (mmdebstrap, chroot): ` +
        `run \`sudo qdeploy sandbox up\` once with the same HOME/XDG_CACHE_HOME, or run as root`,
    );
  }
  const root = sandboxCacheRoot();
  await mkdir(root, { recursive: true });
  await removeAbandonedBuilds(root, log);
  const started = performance.now();
  // Built beside its final place and renamed in: an interrupted build never looks complete.
  const tmp = join(root, `.build-${key}-${process.pid}`);
  try {
    await removeTree(tmp);
    await mkdir(tmp);
    await buildInto(tmp, log);
    await publish(tmp, dir);
  } finally {
    await removeTree(tmp).catch((err) => log(`could not clean up ${tmp}: ${(err as Error).message}`));
  }
  const seconds = (performance.now() - started) / 1000;
  log(`sandbox image ready in ${seconds.toFixed(1)}s (${dir})`);
  return { dir, built: true, seconds };
}

async function buildInto(tmp: string, log: (l: string) => void): Promise<void> {
  const rootfs = join(tmp, "rootfs");
  log("building sandbox image (mmdebstrap, ~40s)...");
  await runOk(mmdebstrapArgv(rootfs), "building the sandbox root filesystem (mmdebstrap)", {
    timeoutMs: 1_800_000,
  });
  log("configuring the image (network, sshd, host key)...");
  await writeImageFiles(rootfs);
  await makeHostKey(rootfs, tmp);
  await configureUnits(rootfs);
  // No password for root at all ("*"), not an empty one: root logs in by key only.
  await runOk(["chroot", rootfs, "usermod", "--password", "*", "root"], "locking root's password");
  // The kernel package made its initrd before the image's initramfs settings were written.
  await runOk(["chroot", rootfs, "update-initramfs", "-u", "-k", "all"], "making the sandbox's initrd (update-initramfs)");
  await copyKernel(rootfs, tmp);
  log(`making the ext4 image (mkfs.ext4 -d, ${IMAGE_SIZE})...`);
  await runOk(
    ["mkfs.ext4", "-q", "-F", "-L", "qdeploy-root", "-d", rootfs, join(tmp, "base.img"), IMAGE_SIZE],
    "making the sandbox disk image (mkfs.ext4)",
  );
  await removeTree(rootfs);
}

async function writeImageFiles(rootfs: string): Promise<void> {
  for (const f of IMAGE_FILES) {
    const target = join(rootfs, f.path);
    await mkdir(join(target, ".."), { recursive: true });
    // Unlink first: a symlink left by a package (resolv.conf) must not be followed out of rootfs.
    await rm(target, { force: true });
    await writeFile(target, f.content, { mode: f.mode });
    await chmod(target, f.mode);
  }
}

/** A fresh ed25519 host key in the image; its public half is kept for known_hosts. */
async function makeHostKey(rootfs: string, tmp: string): Promise<void> {
  const sshDir = join(rootfs, "etc", "ssh");
  for (const name of await readdir(sshDir)) {
    if (name.startsWith("ssh_host_")) await rm(join(sshDir, name), { force: true });
  }
  const key = join(sshDir, "ssh_host_ed25519_key");
  await runOk(
    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@qdeploy-sandbox", "-f", key],
    "generating the sandbox host key",
  );
  await chmod(key, 0o600);
  await copyFile(`${key}.pub`, join(tmp, "ssh_host_ed25519_key.pub"));
}

async function configureUnits(rootfs: string): Promise<void> {
  // systemctl inside the chroot works offline: it only writes the unit symlinks.
  await runOk(["chroot", rootfs, "systemctl", "enable", ...ENABLE_UNITS], "enabling the sandbox units");
  await runOk(["chroot", rootfs, "systemctl", "mask", ...MASK_UNITS], "masking the sandbox timers");
  await runOk(["chroot", rootfs, "systemctl", "disable", ...DISABLE_UNITS], "turning the add-ons' services off");
}

/** QEMU boots with -kernel/-initrd, so both live beside the disk image. */
async function copyKernel(rootfs: string, tmp: string): Promise<void> {
  const boot = join(rootfs, "boot");
  const files = await readdir(boot);
  const kernels = files.filter((f) => f.startsWith("vmlinuz-")).sort();
  const version = kernels.at(-1)?.slice("vmlinuz-".length);
  if (!version || !files.includes(`initrd.img-${version}`)) {
    throw new OperationError(`the sandbox image has no kernel and initrd in ${boot} (found: ${files.join(", ")})`);
  }
  await copyFile(join(boot, `vmlinuz-${version}`), join(tmp, "vmlinuz"));
  await copyFile(join(boot, `initrd.img-${version}`), join(tmp, "initrd.img"));
}

async function publish(tmp: string, dir: string): Promise<void> {
  await writeFile(join(tmp, "recipe-key"), `${recipeKey()}\n`);
  if (IMAGE_PARTS.every((p) => existsSync(join(dir, p)))) return; // another build finished first
  await rm(dir, { recursive: true, force: true }); // an incomplete leftover, e.g. a hand-deleted file
  try {
    await rename(tmp, dir);
  } catch (err) {
    // Another build won the race; its image is as good as ours.
    if (!IMAGE_PARTS.every((p) => existsSync(join(dir, p)))) throw err;
  }
}

/** Removes `.build-*-PID` directories whose builder process is gone (a killed build). */
async function removeAbandonedBuilds(root: string, log: (l: string) => void): Promise<void> {
  for (const name of await readdir(root)) {
    const m = /^\.build-[0-9a-f]+-(\d+)$/.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    const path = join(root, name);
    // A build killed with SIGKILL can leave /proc or /dev mounted inside: say so, do not fail.
    await removeTree(path).catch(() => log(`could not remove ${path} (still mounted? try: umount -R ${path}/rootfs/*)`));
  }
}

/** rm -rf that never crosses into another filesystem (a /proc or /dev left mounted by a killed build). */
async function removeTree(path: string): Promise<void> {
  if (!existsSync(path)) return;
  await runOk(["rm", "-rf", "--one-file-system", path], `removing ${path}`);
}

/** The image's ssh host public key as `ssh-ed25519 AAAA...` (no comment). */
export async function readHostKey(dir: string): Promise<string> {
  const [type, blob] = (await readFile(join(dir, "ssh_host_ed25519_key.pub"), "utf8")).trim().split(/\s+/);
  if (type !== "ssh-ed25519" || !blob) {
    throw new OperationError(`bad host key in ${dir}/ssh_host_ed25519_key.pub: delete ${dir} to rebuild the image`);
  }
  return `${type} ${blob}`;
}
