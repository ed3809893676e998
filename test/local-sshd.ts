/**
 * A real OpenSSH server on 127.0.0.1 for tests: temp ed25519 host key, a client key in
 * its authorized_keys, root login by key. Plus a TCP proxy whose connections a test can
 * cut, to simulate a network that dies mid-command.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Remote } from "../src/remote/remote.ts";
import { connectSsh } from "../src/remote/ssh.ts";
import { requireTool } from "./tools.ts";

export interface LocalSshd {
  port: number;
  dir: string;
  /** Private key the server accepts for root. */
  identity: string;
  /** A key the server does not know. */
  wrongIdentity: string;
  /** The host's public key line (`ssh-ed25519 AAAA...`) and its SHA256 fingerprint. */
  hostPub: string;
  hostFingerprint: string;
  /** A known_hosts file with the host's key for [127.0.0.1]:port. */
  knownHosts: string;
  stop(): Promise<void>;
}

function keygen(file: string): string {
  const r = spawnSync(requireTool("ssh-keygen"), ["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", file]);
  if (r.status !== 0) throw new Error(`ssh-keygen: ${r.stderr}`);
  return readFileSync(`${file}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, "127.0.0.1", res));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((res) => srv.close(() => res()));
  return port;
}

/** Waits until something on port sends an SSH banner. */
async function waitForBanner(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited ${child.exitCode}: ${log()}`);
    const ok = await new Promise<boolean>((res) => {
      const s = createConnection(port, "127.0.0.1");
      s.once("data", (d) => {
        s.destroy();
        res(d.toString().startsWith("SSH-"));
      });
      s.once("error", () => res(false));
    });
    if (ok) return;
    await Bun.sleep(50);
  }
  throw new Error(`sshd did not come up on ${port}: ${log()}`);
}

/**
 * Starts `sshd -D -e` on 127.0.0.1 with everything in a temp dir; a missing sshd or ssh-keygen
 * fails naming it. `config`: more sshd_config lines (e.g. `SetEnv PATH=...` for stand-in commands).
 */
export async function startSshd(o: { config?: string[] } = {}): Promise<LocalSshd> {
  const sshd = requireTool("sshd"); // Debian's sshd refuses a relative path: this is absolute
  const dir = mkdtempSync(join(tmpdir(), "qdeploy-sshd-"));
  const hostPub = keygen(join(dir, "host_ed25519"));
  const clientPub = keygen(join(dir, "id_ed25519"));
  keygen(join(dir, "id_wrong"));
  writeFileSync(join(dir, "authorized_keys"), `${clientPub}\n`);
  const port = await freePort();
  writeFileSync(
    join(dir, "sshd_config"),
    [
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host_ed25519")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "PidFile none",
      "AllowTcpForwarding yes",
      "LogLevel ERROR",
      ...(o.config ?? []),
    ].join("\n") + "\n",
  );
  // Debian's sshd insists on its privilege-separation directory, which only the service creates.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const knownHosts = join(dir, "known_hosts");
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostPub}\n`);
  const fp = spawnSync("ssh-keygen", ["-lf", join(dir, "host_ed25519.pub")]).stdout.toString().split(" ")[1]!;

  let log = "";
  const child = spawn(sshd, ["-D", "-e", "-f", join(dir, "sshd_config"), "-p", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr!.on("data", (d) => (log += d));
  await waitForBanner(port, child, () => log);
  return {
    port,
    dir,
    identity: join(dir, "id_ed25519"),
    wrongIdentity: join(dir, "id_wrong"),
    hostPub,
    hostFingerprint: fp,
    knownHosts,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((res) => child.once("exit", res));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CuttableProxy {
  port: number;
  /** Destroys every connection through the proxy, both sides, at once. */
  cut(): void;
  /** Stops carrying bytes on every connection, closing none (a host gone without a word). */
  stall(): void;
  close(): Promise<void>;
}

/** A TCP proxy to 127.0.0.1:targetPort whose connections can be cut mid-stream. */
export async function startProxy(targetPort: number): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  const srv: Server = createServer((client) => {
    const upstream = createConnection(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((res) => srv.listen(0, "127.0.0.1", res));
  return {
    port: (srv.address() as { port: number }).port,
    cut() {
      for (const s of sockets) s.destroy();
    },
    stall() {
      for (const s of sockets) {
        s.unpipe();
        s.pause();
      }
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => srv.close(() => res()));
    },
  };
}

/**
 * A Remote on a connection kept open (ssh.persist, src/remote/mux.ts) to sshd: a first
 * connection closes and starts the daemon, the second goes through it. Its sockets live in
 * `runtimeDir` ($XDG_RUNTIME_DIR while the test runs); `logged` gets both connects' lines.
 */
export async function connectKept(sshd: LocalSshd, runtimeDir: string, persistSec = 30, logged: string[] = []): Promise<Remote> {
  process.env.XDG_RUNTIME_DIR = runtimeDir;
  const host = { user: "root", host: "127.0.0.1", port: sshd.port, label: `root@127.0.0.1:${sshd.port}` };
  const ssh = { identity: sshd.identity, knownHosts: sshd.knownHosts, hostKey: "strict" as const };
  const opts = { persistSec, log: (l: string) => logged.push(l) };
  await (await connectSsh(host, ssh, opts)).close();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const dir = join(runtimeDir, `qdeploy-${process.getuid!()}`);
    if (existsSync(dir) && readdirSync(dir).some((f) => f.endsWith(".sock"))) break;
    await Bun.sleep(50);
  }
  const remote = await connectSsh(host, ssh, opts);
  if (!logged.at(-1)?.includes("kept open")) throw new Error(`the second connection did not use the kept one: ${logged.join("; ")}`);
  return remote;
}
