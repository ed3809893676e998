/**
 * The programs qdeploy's tests run, and the Debian package of each. `npm test` installs the
 * missing ones first (test/setup-tools.ts); a test that needs one calls requireTool, so a
 * missing program is a failure that names it, never a silent skip.
 */
import { accessSync, constants } from "node:fs";
import { delimiter } from "node:path";

/** Command (or absolute path) -> the Debian package that provides it. */
export const TEST_TOOLS: Record<string, string> = {
  caddy: "caddy", // caddy validate / fmt judge the rendered sites
  age: "age", // the age CLI reads and writes qdeploy's secrets files
  "age-keygen": "age",
  sshd: "openssh-server", // test/local-sshd.ts: a real OpenSSH server on 127.0.0.1
  ssh: "openssh-client",
  "ssh-keygen": "openssh-client",
  "ssh-agent": "openssh-client",
  "ssh-add": "openssh-client",
  curl: "curl",
  file: "file", // says what a cross-compiled binary is
  sha256sum: "coreutils", // checks the executables' SHA256SUMS
  zstd: "zstd", // compressed uploads to the local sshd
  "systemd-analyze": "systemd", // verify units, check calendar expressions
  systemctl: "systemd",
  "/usr/lib/systemd/systemd": "systemd", // a real user manager runs a rendered unit
  unshare: "util-linux",
  flock: "util-linux", // server/lock.sh, run locally by src/server-scripts.test.ts
  setpriv: "util-linux",
  script: "bsdutils", // a terminal for the hidden secret prompt
  nft: "nftables", // checks and applies the host firewall in a namespace
  git: "git",
  bwrap: "bubblewrap", // the build sandbox of commits qdeploy serve receives (src/serve/sandboxed-build.ts)
  "qemu-system-x86_64": "qemu-system-x86", // the sandbox VM for the e2e suite
  "qemu-img": "qemu-utils",
  mmdebstrap: "mmdebstrap", // builds the sandbox image
  "mkfs.ext4": "e2fsprogs",
  bash: "bash", // the completion scripts, run as each shell runs them
  zsh: "zsh",
  fish: "fish",
  chromium: "chromium", // test/browser.ts: the dashboard in a real browser (playwright-core)
};

/** Not a Debian package we can install: Debian 12's golang-go is older than the example's go.mod. */
export const GO_HINT = "Go 1.22 or newer (https://go.dev/dl/; Debian 12's golang-go is too old)";

// Root's tools live in sbin, which a non-root PATH often lacks; the tests look there too.
const SBIN = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** Where `cmd` is (PATH, then the sbin dirs; an absolute path as is), or null. */
export function toolPath(cmd: string, path = process.env.PATH ?? ""): string | null {
  const candidates = cmd.startsWith("/") ? [cmd] : [...path.split(delimiter), ...SBIN].filter(Boolean).map((d) => `${d}/${cmd}`);
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return null;
}

/** The tools of `tools` that are missing, with their packages. */
export function missingTools(tools: Record<string, string> = TEST_TOOLS): { cmd: string; pkg: string }[] {
  return Object.entries(tools)
    .filter(([cmd]) => toolPath(cmd) === null)
    .map(([cmd, pkg]) => ({ cmd, pkg }));
}

/** The path of `cmd`; throws naming the program and its package when it is missing. */
export function requireTool(cmd: string): string {
  const found = toolPath(cmd);
  if (found) return found;
  const pkg = cmd === "go" ? GO_HINT : `Debian package ${TEST_TOOLS[cmd] ?? "?"}`;
  throw new Error(`this test needs ${cmd}, which is not installed (${pkg}); \`npm test\` installs what it can`);
}
