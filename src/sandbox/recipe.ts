/**
 * The sandbox image's build recipe as plain data. Its hash names the cache directory, so any
 * change here (a package, a file, a unit) builds a new image instead of reusing a stale one.
 */
import { createHash } from "node:crypto";
import { MAX_FLEET_VMS, SANDBOX_LAN, sandboxLanAddress, sandboxLanMac } from "./qemu.ts";

/** Bumped when the build steps change in a way the data below does not show. */
const RECIPE_VERSION = 2;

/** The guest's hostname (also in /etc/hosts). */
export const SANDBOX_HOSTNAME = "qdeploy-sandbox";

/** Size of the (sparse) root filesystem image. */
export const IMAGE_SIZE = "4G";

/** Packages on top of mmdebstrap's `apt` variant (essential + apt). */
export const PACKAGES = [
  "systemd-sysv",
  "openssh-server",
  "caddy",
  "linux-image-cloud-amd64",
  "ca-certificates",
  "zstd",
  // What setup installs with Caddy on a fresh host: the switch's rm as a builtin.
  "bash-builtins",
  "iproute2",
  // setup's inbound firewall (qdeploy installs it on demand on a host without it).
  "nftables",
  // serve --install's checkout of the project (installed on demand too; here it saves each
  // e2e run an apt-get of a minute or more under TCG).
  "git",
  // What a stock Debian cloud VPS has too, and what deploy scripts expect to find.
  "procps",
  "curl",
  "dbus",
  "libnss-systemd",
  "sudo",
  "less",
  // Add-ons (src/ops/addons.ts installs them on demand; apt-get of postgresql alone takes
  // over 5 minutes under TCG). Installed, not running: DISABLE_UNITS.
  "postgresql",
  "redis-server",
  // [logs] drain's forwarder (installed on demand too); the host-wide syslog it brings stays off.
  "rsyslog",
  "rsyslog-gnutls",
];

/** The apt sources of the image: a VPS gets security updates. */
export const MIRRORS = [
  "deb http://deb.debian.org/debian bookworm main",
  "deb http://deb.debian.org/debian bookworm-updates main",
  "deb http://deb.debian.org/debian-security bookworm-security main",
];

/** mmdebstrap's argv that writes the root filesystem into `rootfs` (must not exist or be empty). */
export function mmdebstrapArgv(rootfs: string): string[] {
  return [
    "mmdebstrap",
    "--variant=apt",
    "--mode=root",
    "--format=directory",
    `--include=${PACKAGES.join(",")}`,
    // Documentation is dead weight in a throwaway VM.
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    // apt's package lists stay, as on a cloud image that has run apt-get update: an
    // apt-get install in the VM (bootstrap's sudo) then needs no update under emulation.
    "--skip=cleanup/apt/lists",
    "bookworm",
    rootfs,
    ...MIRRORS,
  ];
}

/** A file written into the root filesystem after mmdebstrap. */
export interface ImageFile {
  path: string;
  mode: number;
  content: string;
}

/** The script behind qdeploy-authorized-key.service. */
const AUTHORIZED_KEY_SCRIPT = `#!/bin/sh
# Root's SSH key comes from the kernel command line (spaces encoded as "_"), so one cached
# image serves every project, each with its own key, without rebuilding.
set -eu
key=""
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    qdeploy.authorized_key=*) key="\${arg#qdeploy.authorized_key=}" ;;
  esac
done
[ -n "$key" ] || exit 0
install -d -m 0700 -o root -g root /root/.ssh
printf '%s qdeploy-sandbox\\n' "$(printf '%s' "$key" | tr '_' ' ')" > /root/.ssh/authorized_keys.new
chmod 0600 /root/.ssh/authorized_keys.new
mv -f /root/.ssh/authorized_keys.new /root/.ssh/authorized_keys
`;

/** Every file the image gets on top of the packages' own. */
export const IMAGE_FILES: ImageFile[] = [
  { path: "/etc/hostname", mode: 0o644, content: `${SANDBOX_HOSTNAME}\n` },
  // Without it Caddy's admin endpoint cannot resolve "localhost" and Caddy fails at boot.
  {
    path: "/etc/hosts",
    mode: 0o644,
    content:
      `127.0.0.1\tlocalhost\n127.0.1.1\t${SANDBOX_HOSTNAME}\n` +
      `::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n`,
  },
  // QEMU's user-mode network answers DNS at 10.0.2.3.
  { path: "/etc/resolv.conf", mode: 0o644, content: "nameserver 10.0.2.3\n" },
  // The fleet's private network (qemu.ts SANDBOX_LAN): matched by MAC before the DHCP file below.
  ...Array.from({ length: MAX_FLEET_VMS }, (_, i) => ({
    path: `/etc/systemd/network/10-qdeploy-lan-${i + 1}.network`,
    mode: 0o644,
    content: `[Match]\nMACAddress=${sandboxLanMac(i + 1)}\n\n[Network]\nAddress=${sandboxLanAddress(i + 1)}/${SANDBOX_LAN.mask}\nLinkLocalAddressing=no\n`,
  })),
  {
    path: "/etc/systemd/network/20-qdeploy-wired.network",
    mode: 0o644,
    content: "[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\n",
  },
  {
    path: "/etc/ssh/sshd_config.d/qdeploy.conf",
    mode: 0o644,
    // Listing one HostKey means sshd offers only it: the key we pinned in known_hosts.
    content:
      "HostKey /etc/ssh/ssh_host_ed25519_key\n" +
      "PermitRootLogin prohibit-password\n" +
      "PasswordAuthentication no\n" +
      "KbdInteractiveAuthentication no\n",
  },
  // An initrd of the two modules that find the disk (virtio_pci, virtio_blk), not Debian's
  // "most": 5 MB instead of 13, and the kernel's part of a boot 3.9 s instead of 5.1 under TCG
  // (measured). image.ts rebuilds the initrd once these are in place.
  { path: "/etc/initramfs-tools/conf.d/qdeploy-sandbox.conf", mode: 0o644, content: "MODULES=list\n" },
  { path: "/usr/share/initramfs-tools/modules.d/qdeploy-sandbox", mode: 0o644, content: "virtio_pci\nvirtio_blk\n" },
  { path: "/usr/local/sbin/qdeploy-authorized-key", mode: 0o755, content: AUTHORIZED_KEY_SCRIPT },
  {
    path: "/etc/systemd/system/qdeploy-authorized-key.service",
    mode: 0o644,
    content:
      "[Unit]\n" +
      "Description=Install root's SSH key from the kernel command line (qdeploy sandbox)\n" +
      "After=local-fs.target\n" +
      "Before=ssh.service\n" +
      "ConditionKernelCommandLine=qdeploy.authorized_key\n\n" +
      "[Service]\n" +
      "Type=oneshot\n" +
      "RemainAfterExit=yes\n" +
      "ExecStart=/usr/local/sbin/qdeploy-authorized-key\n\n" +
      "[Install]\n" +
      "WantedBy=multi-user.target\n",
  },
];

/** Units enabled in the image (ssh and caddy are enabled by their packages). */
export const ENABLE_UNITS = ["systemd-networkd.service", "qdeploy-authorized-key.service"];

/** Units installed but off, as on a host that never had the add-on: provisioning starts them. */
export const DISABLE_UNITS = ["postgresql.service", "redis-server.service", "rsyslog.service"];

/** Units masked: apt's daily timers would eat the emulated CPU in the middle of a test. */
export const MASK_UNITS = ["apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "fstrim.timer"];

/** The cache key: a short hash of everything above. */
export function recipeKey(): string {
  const recipe = {
    version: RECIPE_VERSION,
    mmdebstrap: mmdebstrapArgv("ROOTFS"),
    files: IMAGE_FILES,
    enable: ENABLE_UNITS,
    mask: MASK_UNITS,
    disable: DISABLE_UNITS,
    size: IMAGE_SIZE,
  };
  return createHash("sha256").update(JSON.stringify(recipe)).digest("hex").slice(0, 16);
}
