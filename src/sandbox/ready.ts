/**
 * Waiting until the sandbox is really up: sshd answers with a banner, and root can log in
 * with the pinned host key and see systemd finish booting.
 */
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { OperationError } from "../errors.ts";
import { run, tailOf } from "./run.ts";

/** How to reach the VM and what to check while waiting. */
export interface ReadyCheck {
  /** The VM in messages: "the sandbox VM", "sandbox VM 2". */
  name?: string;
  sshPort: number;
  /** ssh argv into the VM (from sandboxSshArgv) followed by the remote command. */
  ssh: (command: string[]) => string[];
  consoleLog: string;
  /** False when QEMU has exited: no point in waiting any longer. */
  vmAlive: () => boolean;
  timeoutMs: number;
  log: (l: string) => void;
}

/**
 * Resolves when root can run `systemctl is-system-running --wait` over ssh. QEMU's user network
 * accepts TCP on the forwarded port even before the guest listens, so a connect proves nothing:
 * the banner check is the cheap first gate, the ssh login the real one.
 */
export async function waitUntilReady(c: ReadyCheck): Promise<void> {
  const deadline = Date.now() + c.timeoutMs;
  let last = "no SSH banner yet";
  while (Date.now() < deadline) {
    if (!c.vmAlive()) throw notReady(c, "QEMU exited during boot");
    if (await sshBanner(c.sshPort, 2000)) {
      const left = Math.max(deadline - Date.now(), 5_000);
      const r = await run(c.ssh(["systemctl", "is-system-running", "--wait"]), { timeoutMs: left });
      const state = r.stdout.trim();
      if (state === "running") return;
      if (state === "degraded") {
        const failed = await run(c.ssh(["systemctl", "--failed", "--no-legend", "--plain"]), { timeoutMs: 20_000 });
        c.log(`sandbox booted degraded; failed units: ${failed.stdout.trim().replace(/\n/g, "; ") || "?"}`);
        return;
      }
      last = `ssh: ${(r.stderr.trim() || state || `exit ${r.code}`).split("\n").at(-1)}`;
    }
    await Bun.sleep(1000);
  }
  throw notReady(c, `not reachable after ${Math.round(c.timeoutMs / 1000)}s (${last})`);
}

function notReady(c: ReadyCheck, why: string): OperationError {
  let consoleTail = "";
  try {
    consoleTail = tailOf(readFileSync(c.consoleLog, "utf8").replace(/\r|\x1b\[[0-9;]*m/g, ""), 25);
  } catch {
    consoleTail = " (no console output)";
  }
  return new OperationError(
    `${c.name ?? "the sandbox VM"} (ssh 127.0.0.1:${c.sshPort}) did not come up: ${why}. Run \`qdeploy sandbox down\` and \`up\` again; ` +
      `the serial console is in ${c.consoleLog}, last lines:${consoleTail}`,
  );
}

/** True when something on 127.0.0.1:port sends an SSH identification line within `ms`. */
export function sshBanner(port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    let buf = "";
    const sock = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      if (buf.startsWith("SSH-")) done(true);
      else if (buf.length >= 4) done(false);
    });
    sock.on("error", () => done(false));
    sock.on("close", () => done(false));
  });
}
