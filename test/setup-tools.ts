/**
 * Run by `npm test` before `bun test`: makes sure the programs the tests need are here
 * (test/tools.ts lists them). As root on Debian it installs the missing ones with apt-get,
 * the way `qdeploy sandbox up` installs QEMU; elsewhere it fails naming the packages to
 * install. Go cannot be installed this way (Debian 12's is too old), so it is only named.
 *
 * Debian starts a service when its package is installed (caddy on :80/:443/:2019, sshd on
 * :22). The tests run their own Caddy checks and their own sshd, so the install runs with a
 * policy-rc.d that refuses to start services, and services of packages installed here are
 * left disabled, as the machine had none before.
 */
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { GO_HINT, missingTools, TEST_TOOLS, toolPath } from "./tools.ts";

/** Services Debian enables for a package we may install; the tests never use them. */
const SERVICES: Record<string, string> = { caddy: "caddy.service", "openssh-server": "ssh.service" };
const POLICY_RC = "/usr/sbin/policy-rc.d";

function fail(lines: string[]): never {
  console.error(lines.join("\n"));
  process.exit(1);
}

/** Runs argv with the terminal's output; throws naming the step when it fails (the caller cleans up first). */
function mustRun(argv: string[]): void {
  const r = Bun.spawnSync(argv, { stdout: "inherit", stderr: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (r.exitCode !== 0) throw new Error(`test tools: \`${argv.join(" ")}\` failed (exit ${r.exitCode})`);
}

function packagesOf(missing: { pkg: string }[]): string[] {
  return [...new Set(missing.map((m) => m.pkg))].sort();
}

function describeMissing(missing: { cmd: string; pkg: string }[]): string[] {
  return packagesOf(missing).map((pkg) => `  ${pkg}: ${missing.filter((m) => m.pkg === pkg).map((m) => m.cmd).join(", ")}`);
}

const noGo = toolPath("go") === null ? [`  go: ${GO_HINT}`] : [];
let missing = missingTools();
const canApt = process.getuid?.() === 0 && existsSync("/etc/debian_version") && toolPath("apt-get") !== null;

if (missing.length > 0 && !canApt) {
  const pkgs = packagesOf(missing).join(" ");
  fail([
    "npm test needs programs this machine lacks (Debian package: programs):",
    ...describeMissing(missing),
    ...noGo,
    `install them (e.g. sudo apt-get install -y ${pkgs}) and run npm test again; as root on Debian, npm test installs them itself`,
  ]);
}

if (missing.length > 0) {
  const pkgs = packagesOf(missing);
  console.log(`test tools: installing ${pkgs.join(" ")} (apt-get)...`);
  // Keep Debian from starting services during the install (invoke-rc.d and
  // deb-systemd-invoke both ask policy-rc.d; 101 = "action forbidden"). An existing one is left as is.
  const ownPolicy = !existsSync(POLICY_RC);
  if (ownPolicy) writeFileSync(POLICY_RC, "#!/bin/sh\n# written by qdeploy's test/setup-tools.ts for the duration of an install\nexit 101\n", { mode: 0o755 });
  // Ctrl-C reaches apt-get too; we stay alive to remove our policy-rc.d, then fail.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => {});
  let error: Error | undefined;
  try {
    // A fresh cloud machine often runs unattended-upgrades at first boot: wait for its lock.
    mustRun(["apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-q"]);
    mustRun(["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", ...pkgs]);
    const services = pkgs.flatMap((p) => (SERVICES[p] ? [SERVICES[p]] : []));
    if (services.length > 0 && existsSync("/run/systemd/system")) {
      mustRun(["systemctl", "disable", "--now", ...services]);
      console.log(`test tools: left ${services.join(" ")} disabled (the tests run their own)`);
    }
  } catch (err) {
    error = err as Error;
  }
  // Always, before any exit: a policy-rc.d left behind would keep every service from starting.
  if (ownPolicy) rmSync(POLICY_RC, { force: true });
  if (error) fail([error.message]);
  missing = missingTools();
  if (missing.length > 0) fail(["test tools: still missing after apt-get install:", ...describeMissing(missing), ...noGo]);
}

if (noGo.length > 0) fail(["npm test needs Go, which is not installed:", ...noGo]);
// Prometheus's parser (test/prom-parse.ts) is `go run` inside a test's 5 s: its modules are
// fetched and built here once, as a fresh machine takes longer than that for them.
const promparse = Bun.spawnSync(["go", "build", "-o", "/dev/null", "."], { cwd: `${import.meta.dir}/fixtures/promparse`, stdout: "inherit", stderr: "inherit", env: { ...process.env, GOFLAGS: "-mod=mod" } });
if (promparse.exitCode !== 0) fail([`test tools: \`go build\` of test/fixtures/promparse failed (exit ${promparse.exitCode}): Prometheus's parser needs the Go module proxy`]);
console.log(`test tools: all ${Object.keys(TEST_TOOLS).length} programs and go are here`);
