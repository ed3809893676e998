/**
 * The SSH Remote against a real OpenSSH server on 127.0.0.1 (no mocks): quoting,
 * exit codes, atomic writes, checked uploads, host keys, auth, jump hosts, lost links. The
 * exec, write and upload tests run twice: on a connection of their own, and on one an earlier
 * command kept open (ssh.persist, src/remote/mux.ts; test/ssh-persist.test.ts has the rest).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import type { HostAddress } from "../src/config/types.ts";
import { OperationError, RemoteError } from "../src/errors.ts";
import type { Remote } from "../src/remote/remote.ts";
import { connectSsh, type SshSettings } from "../src/remote/ssh.ts";
import { openConnections } from "../src/ops/sessions.ts";
import { parseHost } from "../src/config/resolve.ts";
import { connectKept, freePort, startProxy, startSshd, type LocalSshd } from "./local-sshd.ts";

// Each session on a dev machine may run a slow ~/.bashrc (root's shell); CI is faster.
setDefaultTimeout(20_000);

let sshd: LocalSshd;
let remote: Remote;
let direct: Remote;
let kept: Remote;
let work: string; // local temp dir
let rdir: string; // remote temp dir (same machine, but only touched through SSH)
let connectMs = 0;

const addr = (port = sshd.port, user = "root"): HostAddress => ({ user, host: "127.0.0.1", port, label: `${user}@127.0.0.1:${port}` });
const cfg = (over: Partial<SshSettings> = {}): SshSettings => ({
  identity: sshd.identity,
  knownHosts: sshd.knownHosts,
  hostKey: "strict",
  ...over,
});

/** The rejection of p, which must be a RemoteError. */
async function remoteError(p: Promise<unknown>): Promise<RemoteError> {
  const err = await p.then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeInstanceOf(RemoteError);
  return err as RemoteError;
}

async function exists(path: string): Promise<boolean> {
  return (await remote.exec(["test", "-e", path], { check: false })).code === 0;
}

beforeAll(async () => {
  delete process.env.SSH_AUTH_SOCK; // the agent must not make a refused key pass
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), "qdeploy-ssh-test-"));
  const t = Date.now();
  remote = direct = await connectSsh(addr(), cfg());
  connectMs = Date.now() - t;
  kept = await connectKept(sshd, mkdtempSync(join(tmpdir(), "qdeploy-ssh-run-")), 10);
  rdir = (await remote.exec(["mktemp", "-d"])).stdout.trim();
});

afterAll(async () => {
  console.log(`connect to local sshd: ${connectMs} ms`);
  await remote?.exec(["rm", "-rf", rdir]).catch(() => {});
  await remote?.close();
  await kept?.close();
  await sshd?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe.each([
  ["its own connection", () => direct],
  ["a connection an earlier command kept open (ssh.persist)", () => kept],
])("on %s", (_, on) => {
  let top: string;
  beforeAll(async () => {
    remote = on();
    // A folder of its own: the tests name their files, and run once per connection.
    top = rdir;
    rdir = (await remote.exec(["mktemp", "-d", "-p", top])).stdout.trim();
  });
  afterAll(() => {
    remote = direct;
    rdir = top;
  });

  describe("exec", () => {
    test("awkward argv round-trips exactly", async () => {
      const words = [
        "plain",
        "two words",
        "it's",
        '"double"',
        "$HOME",
        "$(id)",
        "`uname`",
        "back\\slash",
        "line1\nline2\n",
        "tab\there",
        "*",
        "",
        " lead and trail ",
        "semi;colon&&amp|pipe>redir",
        "héllo ✓",
        "-n",
      ];
      const r = await remote.exec(["printf", "%s\\0", ...words]);
      expect(r.stdout.split("\0").slice(0, -1)).toEqual(words);
      expect(r.code).toBe(0);
    });

    test("stdin in, output streamed to callbacks (then not also kept: logs -f runs for days)", async () => {
      const chunks: string[] = [];
      const errs: string[] = [];
      const r = await remote.exec(["sh", "-c", "cat; echo warn >&2"], {
        stdin: "from stdin ✓\n",
        onStdout: (c) => chunks.push(c),
        onStderr: (c) => errs.push(c),
      });
      expect(chunks.join("")).toBe("from stdin ✓\n");
      expect(r.stdout).toBe("");
      expect(errs.join("")).toBe("warn\n");
      expect(r.stderr).toBe("warn\n");
    });

    test("non-zero exit throws RemoteError with command, code and stderr", async () => {
      const err = await remoteError(remote.exec(["sh", "-c", "echo broken thing >&2; exit 3"]));
      expect(err.message).toStartWith(`root@127.0.0.1:${sshd.port}: \`sh -c 'echo broken thing >&2; exit 3'\` exited with 3`);
      expect(err.message).toContain("broken thing");
      expect(err.detail.code).toBe(3);
      expect(err.detail.argv).toEqual(["sh", "-c", "echo broken thing >&2; exit 3"]);
    });

    test("check: false returns the code", async () => {
      const r = await remote.exec(["sh", "-c", "exit 7"], { check: false });
      expect(r.code).toBe(7);
    });

    test("a command killed by a signal says which", async () => {
      const err = await remoteError(remote.exec(["sh", "-c", "kill -KILL $$"]));
      expect(err.message).toContain("killed by SIGKILL");
    });

    test("abort closes the channel", async () => {
      const ac = new AbortController();
      const t = Date.now();
      setTimeout(() => ac.abort(), 200);
      const err = await remoteError(remote.exec(["sleep", "20"], { signal: ac.signal }));
      expect(err.message).toContain("`sleep 20` aborted");
      expect(Date.now() - t).toBeLessThan(3000);
    });

    test("keepStdinOpen holds the command until abort, which the host sees as EOF", async () => {
      const flag = `${rdir}/stdin-closed`;
      const ac = new AbortController();
      let seen = "";
      let settled = false;
      const ready = Promise.withResolvers<void>();
      const run = remote
        .exec(["sh", "-c", 'echo ready; cat >/dev/null; touch "$1"', "sh", flag], {
          keepStdinOpen: true,
          signal: ac.signal,
          onStdout: (c) => {
            seen += c;
            if (seen.includes("ready")) ready.resolve();
          },
        })
        .finally(() => (settled = true));
      await ready.promise;
      await Bun.sleep(300);
      expect(settled).toBe(false);
      expect(await exists(flag)).toBe(false);
      ac.abort();
      expect((await remoteError(run)).message).toContain("aborted");
      let closed = false;
      for (let i = 0; i < 50 && !closed; i++) {
        closed = await exists(flag);
        if (!closed) await Bun.sleep(50);
      }
      expect(closed).toBe(true);
    });

    test("one connection carries many parallel commands", async () => {
      // More than sshd's MaxSessions (10): the rest must queue, not fail.
      const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => remote.exec(["sh", "-c", `sleep 0.1; echo ${i}`])));
      expect(rs.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
    });
  });

  describe("write", () => {
    test("writes content with the mode, atomically, leaving no temp file", async () => {
      const path = `${rdir}/app env`;
      await remote.write(path, "SECRET=s3cr3t 'quoted' $x\n", 0o640);
      expect((await remote.exec(["stat", "-c", "%a", path])).stdout.trim()).toBe("640");
      expect((await remote.exec(["cat", path])).stdout).toBe("SECRET=s3cr3t 'quoted' $x\n");
      await remote.write(path, new Uint8Array([0, 1, 2, 255]), 0o600);
      expect((await remote.exec(["od", "-An", "-tu1", path])).stdout.trim().split(/\s+/)).toEqual(["0", "1", "2", "255"]);
      expect((await remote.exec(["stat", "-c", "%a", path])).stdout.trim()).toBe("600");
      expect((await remote.exec(["sh", "-c", 'ls -A "$1" | grep -c incoming || true', "sh", rdir])).stdout.trim()).toBe("0");
    });

    test("the content never shows on a command line (ps while writing)", async () => {
      const marker = `TOPSECRET${randomBytes(6).toString("hex")}`;
      // Large enough that the write is still running while ps looks.
      const content = `${marker}\n${"x".repeat(8 << 20)}`;
      const stop = `${rdir}/stop-ps`;
      const psRun = remote.exec(["sh", "-c", 'while [ ! -e "$1" ]; do ps -eo args; sleep 0.01; done', "sh", stop]);
      await Bun.sleep(300);
      for (let i = 0; i < 3; i++) await remote.write(`${rdir}/secret.env`, content, 0o600);
      await remote.exec(["touch", stop]);
      const ps = (await psRun).stdout;
      expect(ps).toContain(".incoming-XXXXXX"); // ps did see a write in progress
      expect(ps).not.toContain(marker);
      expect((await remote.exec(["head", "-n1", `${rdir}/secret.env`])).stdout.trim()).toBe(marker);
    });

    test("a failing write names the path, not the content", async () => {
      const err = await remoteError(remote.write(`${rdir}/no/such/dir/f`, "SECRETVALUE", 0o600));
      expect(err.message).toContain(`writing ${rdir}/no/such/dir/f`);
      expect(err.message).not.toContain("SECRETVALUE");
      expect(JSON.stringify(err.detail)).not.toContain("SECRETVALUE");
    });
  });

  describe("upload", () => {
    let file: string;
    let sha: string;
    let size: number;
    beforeAll(() => {
      // 4 MB of random hex: random, yet compressible to about half.
      const data = Buffer.from(randomBytes(2 << 20).toString("hex"));
      file = join(work, "app.bin");
      writeFileSync(file, data);
      sha = createHash("sha256").update(data).digest("hex");
      size = data.length;
    });

    for (const compression of ["gzip", "zstd"] as const) {
      test(`${compression}: sha256 matches on the host, mode set, fewer bytes on the wire`, async () => {
        const dest = `${rdir}/app-${compression}`;
        const { bytesSent } = await remote.upload(file, dest, { sha256: sha, compression });
        const [remoteSha] = (await remote.exec(["sha256sum", dest])).stdout.split(" ");
        expect(remoteSha).toBe(sha);
        expect((await remote.exec(["stat", "-c", "%a", dest])).stdout.trim()).toBe("755");
        expect(bytesSent).toBeLessThan(size * 0.7);
        expect(bytesSent).toBeGreaterThan(0);
      });
    }

    describe("as a zstd patch against a file the host has (base)", () => {
      // Two builds of one program, alike but for a few bytes: the patch is tiny.
      let old: string;
      let next: string;
      let nextSha: string;
      beforeAll(() => {
        const data = Buffer.from(randomBytes(2 << 20).toString("hex"));
        // Names of their own: a patch is kept by the names of its two files (builds are named by their sha256).
        const run = randomBytes(4).toString("hex");
        old = join(work, `old-${run}.bin`);
        writeFileSync(old, data);
        data.write("changed!", 1 << 20);
        next = join(work, `next-${run}.bin`);
        writeFileSync(next, data);
        nextSha = createHash("sha256").update(data).digest("hex");
      });

      test("sends kilobytes, not the file, and the host rebuilds it exactly", async () => {
        const base = `${rdir}/base-1`;
        await remote.upload(old, base, { sha256: createHash("sha256").update(readFileSync(old)).digest("hex"), compression: "zstd" });
        const r = await remote.upload(next, `${rdir}/next-1`, { sha256: nextSha, compression: "zstd", base: { local: old, remote: base } });
        expect(r.patched).toBe(true);
        expect(r.bytesSent).toBeLessThan(10_000);
        expect((await remote.exec(["sha256sum", `${rdir}/next-1`])).stdout.split(" ")[0]).toBe(nextSha);
        expect((await remote.exec(["stat", "-c", "%a", `${rdir}/next-1`])).stdout.trim()).toBe("755");
      });

      test("a host without the base, or with other bytes under its name, gets the whole file", async () => {
        const missing = await remote.upload(next, `${rdir}/next-2`, { sha256: nextSha, compression: "zstd", base: { local: old, remote: `${rdir}/no-such-base` } });
        expect(missing.patched).toBe(false);
        expect(missing.bytesSent).toBeGreaterThan(size * 0.3);
        const other = join(work, "other.bin");
        writeFileSync(other, randomBytes(1 << 20));
        await remote.upload(other, `${rdir}/base-3`, { sha256: createHash("sha256").update(readFileSync(other)).digest("hex"), compression: "zstd" });
        const wrong = await remote.upload(next, `${rdir}/next-3`, { sha256: nextSha, compression: "zstd", base: { local: old, remote: `${rdir}/base-3` } });
        expect(wrong.patched).toBe(false);
        for (const n of ["next-2", "next-3"]) expect((await remote.exec(["sha256sum", `${rdir}/${n}`])).stdout.split(" ")[0]).toBe(nextSha);
        expect((await remote.exec(["sh", "-c", 'ls -A "$1" | grep -c incoming || true', "sh", rdir])).stdout.trim()).toBe("0");
      });
    });

    test("onProgress: increasing, at most ~10 a second, ending at the file's size", async () => {
      // 24 MB incompressible through gzip: long enough on loopback for several reports.
      const data = randomBytes(24 << 20);
      const big = join(work, "progress.bin");
      writeFileSync(big, data);
      const calls: { sent: number; total: number; at: number }[] = [];
      const { bytesSent } = await remote.upload(big, `${rdir}/progress`, {
        sha256: createHash("sha256").update(data).digest("hex"),
        onProgress: (sent, total) => calls.push({ sent, total, at: performance.now() }),
      });
      console.log(`upload progress: ${calls.length} reports for ${data.length} bytes (${bytesSent} on the wire)`);
      expect(calls.length).toBeGreaterThanOrEqual(2);
      expect(calls.every((c) => c.total === data.length)).toBe(true);
      expect(calls.at(-1)!.sent).toBe(data.length);
      for (let i = 1; i < calls.length; i++) {
        expect(calls[i]!.sent).toBeGreaterThan(calls[i - 1]!.sent);
        // throttled: every report but the last comes at least 100 ms after the one before
        if (i < calls.length - 1) expect(calls[i]!.at - calls[i - 1]!.at).toBeGreaterThanOrEqual(99);
      }
      expect(calls.slice(0, -1).every((c) => c.sent < data.length)).toBe(true);
      expect((await remote.exec(["sha256sum", `${rdir}/progress`])).stdout.split(" ")[0]).toBe(createHash("sha256").update(data).digest("hex"));
    });

    test("onProgress of an empty file: one report, 0 of 0", async () => {
      const empty = join(work, "empty");
      writeFileSync(empty, "");
      const calls: [number, number][] = [];
      await remote.upload(empty, `${rdir}/empty`, { sha256: createHash("sha256").update("").digest("hex"), onProgress: (s, t) => calls.push([s, t]) });
      expect(calls).toEqual([[0, 0]]);
    });

    test("mode is honoured and an existing file is replaced", async () => {
      const dest = `${rdir}/small`;
      const small = join(work, "small");
      writeFileSync(small, "one");
      await remote.upload(small, dest, { sha256: createHash("sha256").update("one").digest("hex"), mode: 0o700 });
      writeFileSync(small, "two");
      await remote.upload(small, dest, { sha256: createHash("sha256").update("two").digest("hex"), mode: 0o644 });
      expect((await remote.exec(["cat", dest])).stdout).toBe("two");
      expect((await remote.exec(["stat", "-c", "%a", dest])).stdout.trim()).toBe("644");
    });

    test("a wrong sha256 leaves no file and no temp", async () => {
      const dest = `${rdir}/wrong-sha`;
      const err = await remoteError(remote.upload(file, dest, { sha256: "0".repeat(64) }));
      expect(err.message).toContain(`sha256 on the host is ${sha}, expected ${"0".repeat(64)}`);
      expect(err.message).toContain(`nothing was installed at ${dest}`);
      expect(await exists(dest)).toBe(false);
      expect((await remote.exec(["sh", "-c", 'ls -A "$1" | grep -c incoming || true', "sh", rdir])).stdout.trim()).toBe("0");
    });

    test("a connection cut halfway never produces remotePath", async () => {
      // Incompressible, so the cut surely lands mid-stream.
      const big = join(work, "random.bin");
      const data = randomBytes(12 << 20);
      writeFileSync(big, data);
      const dest = `${rdir}/cut`;
      const proxy = await startProxy(sshd.port);
      try {
        const viaProxy = await connectSsh(addr(proxy.port), cfg({ knownHosts: knownHostsFor(proxy.port) }));
        let cut = false;
        const err = await remoteError(
          viaProxy.upload(big, dest, {
            sha256: createHash("sha256").update(data).digest("hex"),
            onProgress: (n) => {
              if (n > 2 << 20 && !cut) {
                cut = true;
                proxy.cut();
              }
            },
          }),
        );
        expect(cut).toBe(true);
        expect(err.message).toMatch(/: connection lost .*while uploading /);
        // The host notices the dead link (EOF to the decompressor) and gives up; give it a moment.
        for (let i = 0; i < 40; i++) {
          const left = (await remote.exec(["sh", "-c", 'ls -A "$1" | grep -c incoming || true', "sh", rdir])).stdout.trim();
          if (left === "0") break;
          await Bun.sleep(100);
        }
        expect(await exists(dest)).toBe(false);
        await viaProxy.close();
      } finally {
        await proxy.close();
      }
    });
  });
});

/** A known_hosts file listing the test host's key under another port (for the proxy). */
function knownHostsFor(port: number): string {
  const f = join(work, `known_hosts-${port}`);
  writeFileSync(f, `[127.0.0.1]:${port} ${sshd.hostPub}\n`);
  return f;
}

describe("connection lost", () => {
  test("mid-command, and every call after", async () => {
    const proxy = await startProxy(sshd.port);
    try {
      const r = await connectSsh(addr(proxy.port), cfg({ knownHosts: knownHostsFor(proxy.port) }));
      setTimeout(() => proxy.cut(), 300);
      const err = await remoteError(r.exec(["sleep", "10"]));
      expect(err.message).toStartWith(`root@127.0.0.1:${proxy.port}: connection lost`);
      expect(err.message).toContain("while running `sleep 10`");
      const again = await remoteError(r.exec(["true"]));
      expect(again.message).toContain("connection lost");
      await r.close();
    } finally {
      await proxy.close();
    }
  });
});

describe("host keys", () => {
  test("strict: an unknown host fails with its fingerprint and what to do", async () => {
    const kh = join(work, "empty_known_hosts");
    writeFileSync(kh, "");
    const err = await remoteError(connectSsh(addr(), cfg({ knownHosts: kh })));
    expect(err.message).toBe(
      `root@127.0.0.1:${sshd.port}: host key for [127.0.0.1]:${sshd.port} is not in ${kh} (${sshd.hostFingerprint}); ` +
        `add it with \`ssh-keyscan -p ${sshd.port} 127.0.0.1 >> ${kh}\` after checking the fingerprint, or set ssh.host_key = "accept-new"`,
    );
  });

  test("mismatch shows both fingerprints and the file, even under accept-new", async () => {
    const other = join(work, "other_key");
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const otherPub = readFileSync(`${other}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    const otherFp = spawnSync("ssh-keygen", ["-lf", `${other}.pub`]).stdout.toString().split(" ")[1]!;
    const kh = join(work, "mismatch_known_hosts");
    writeFileSync(kh, `# old server\n[127.0.0.1]:${sshd.port} ${otherPub}\n`);
    for (const hostKey of ["strict", "accept-new"] as const) {
      const err = await remoteError(connectSsh(addr(), cfg({ knownHosts: kh, hostKey })));
      expect(err.message).toContain(`host key for [127.0.0.1]:${sshd.port} has CHANGED`);
      expect(err.message).toContain(`the server presented ${sshd.hostFingerprint} (ssh-ed25519)`);
      expect(err.message).toContain(`${kh} expects ${otherFp} (ssh-ed25519, ${kh}:2)`);
    }
    expect(readFileSync(kh, "utf8")).not.toContain(sshd.hostPub.split(" ")[1]!);
  });

  test("a hashed entry (ssh-keygen -H) is accepted", async () => {
    const kh = join(work, "hashed_known_hosts");
    copyFileSync(sshd.knownHosts, kh);
    expect(spawnSync("ssh-keygen", ["-H", "-f", kh]).status).toBe(0);
    expect(readFileSync(kh, "utf8")).toStartWith("|1|");
    const r = await connectSsh(addr(), cfg({ knownHosts: kh }));
    expect((await r.exec(["echo", "ok"])).stdout).toBe("ok\n");
    await r.close();
  });

  test("a @revoked key is refused", async () => {
    const kh = join(work, "revoked_known_hosts");
    writeFileSync(kh, `[127.0.0.1]:${sshd.port} ${sshd.hostPub}\n@revoked * ${sshd.hostPub}\n`);
    const err = await remoteError(connectSsh(addr(), cfg({ knownHosts: kh })));
    expect(err.message).toContain(`(${sshd.hostFingerprint}) is marked @revoked in ${kh}`);
  });

  test("accept-new appends the key (creating the file 0600), then strict accepts it", async () => {
    const kh = join(work, "fresh", "known_hosts");
    const logs: string[] = [];
    const r = await connectSsh(addr(), cfg({ knownHosts: kh, hostKey: "accept-new" }), { log: (l) => logs.push(l) });
    await r.close();
    expect(statSync(kh).mode & 0o777).toBe(0o600);
    expect(readFileSync(kh, "utf8")).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostPub}\n`);
    expect(logs.join("\n")).toContain(`added host key ${sshd.hostFingerprint}`);
    const again = await connectSsh(addr(), cfg({ knownHosts: kh, hostKey: "strict" }));
    await again.close();
    expect(readFileSync(kh, "utf8").split("\n").length).toBe(2); // not appended twice
  });

  test("relative known_hosts and identity paths are taken from root", async () => {
    const r = await connectSsh(addr(), { identity: "id_ed25519", knownHosts: "known_hosts", hostKey: "strict" }, { root: sshd.dir });
    expect((await r.exec(["true"])).code).toBe(0);
    await r.close();
  });
});

describe("auth and reachability", () => {
  test("a key the server does not know is refused, by name", async () => {
    const err = await remoteError(connectSsh(addr(), cfg({ identity: sshd.wrongIdentity })));
    expect(err.message).toBe(`root@127.0.0.1:${sshd.port}: the server refused the key ${sshd.wrongIdentity} for user root`);
  });

  test("a missing identity file is an OperationError before any connection", async () => {
    const err = await connectSsh(addr(), cfg({ identity: join(work, "nope") })).catch((e) => e);
    expect(err.message).toContain(`ssh.identity ${join(work, "nope")} does not exist`);
  });

  test("no identity and no agent: says what to set; default ~/.ssh keys and ~ paths work", async () => {
    const home = mkdtempSync(join(tmpdir(), "qdeploy-home-"));
    const saved = process.env.HOME;
    process.env.HOME = home;
    try {
      const err = await connectSsh(addr(), cfg({ identity: undefined })).catch((e) => e);
      expect(err).toBeInstanceOf(OperationError);
      expect(err.message).toBe(
        `${addr().label}: no SSH key to offer: set ssh.identity in deploy.toml or start ssh-agent (SSH_AUTH_SOCK is not set)`,
      );
      mkdirSync(join(home, ".ssh"));
      copyFileSync(sshd.identity, join(home, ".ssh", "id_ed25519"));
      copyFileSync(sshd.knownHosts, join(home, ".ssh", "known_hosts"));
      const r = await connectSsh(addr(), { knownHosts: "~/.ssh/known_hosts", hostKey: "strict" });
      expect((await r.exec(["true"])).code).toBe(0);
      await r.close();
    } finally {
      process.env.HOME = saved;
      rmSync(home, { recursive: true, force: true });
    }
  });

  test("the SSH agent is used when SSH_AUTH_SOCK is set, after the identity", async () => {
    const sock = join(work, "agent.sock");
    const agent = spawnSync("ssh-agent", ["-a", sock, "-s"]).stdout.toString();
    const pid = /SSH_AGENT_PID=(\d+)/.exec(agent)?.[1];
    expect(pid).toBeDefined();
    process.env.SSH_AUTH_SOCK = sock;
    try {
      // Empty agent + wrong key: both named in the refusal.
      const err = await remoteError(connectSsh(addr(), cfg({ identity: sshd.wrongIdentity })));
      expect(err.message).toBe(
        `${addr().label}: the server refused the key ${sshd.wrongIdentity} and the SSH agent's keys for user root`,
      );
      expect(spawnSync("ssh-add", ["-q", sshd.identity], { env: { ...process.env, SSH_AUTH_SOCK: sock } }).status).toBe(0);
      const r = await connectSsh(addr(), cfg({ identity: sshd.wrongIdentity }));
      expect((await r.exec(["echo", "agent"])).stdout).toBe("agent\n");
      await r.close();
    } finally {
      delete process.env.SSH_AUTH_SOCK;
      process.kill(Number(pid), "SIGTERM");
    }
  });

  test("a closed port says so", async () => {
    const port = await freePort();
    const err = await remoteError(connectSsh(addr(port), cfg()));
    expect(err.message).toBe(
      `root@127.0.0.1:${port}: cannot connect to 127.0.0.1 port ${port}: connection refused; is the host up? is port ${port} right?`,
    );
  });

  test("an unresolvable name says DNS", async () => {
    const h: HostAddress = { user: "root", host: "no-such-host.invalid", port: 22, label: "root@no-such-host.invalid" };
    const err = await remoteError(connectSsh(h, cfg(), { timeoutMs: 5000 }));
    expect(err.message).toContain("DNS lookup of no-such-host.invalid failed");
  });
});

describe("jump host", () => {
  test("reaches the target through the bastion (same sshd)", async () => {
    const jump = `root@127.0.0.1:${sshd.port}`;
    const r = await connectSsh(addr(), cfg({ jump }));
    expect((await r.exec(["printf", "%s", "via jump"])).stdout).toBe("via jump");
    await r.close();
  });

  test("the bastion's host key is checked too", async () => {
    const proxy = await startProxy(sshd.port);
    try {
      // Target known, bastion (on the proxy's port) not.
      const err = await remoteError(connectSsh(addr(), cfg({ jump: `root@127.0.0.1:${proxy.port}` })));
      expect(err.message).toContain(`jump host root@127.0.0.1:${proxy.port}: host key for [127.0.0.1]:${proxy.port} is not in`);
    } finally {
      await proxy.close();
    }
  });

  test("a target the bastion cannot reach is named", async () => {
    const port = await freePort();
    const err = await remoteError(connectSsh(addr(port), cfg({ jump: `root@127.0.0.1:${sshd.port}` })));
    expect(err.message).toContain(`jump host root@127.0.0.1:${sshd.port} cannot reach 127.0.0.1 port ${port}`);
  });
});

describe("~/.ssh/config", () => {
  /** An ssh_config file in the test's temp dir. */
  const sshConfig = (text: string): string => {
    const file = join(work, `ssh_config-${randomBytes(4).toString("hex")}`);
    writeFileSync(file, text);
    return file;
  };
  const known = (over: Partial<SshSettings> = {}) => cfg({ identity: undefined, ...over });

  test("an alias: HostName, Port, User and IdentityFile come from it; the label stays as written", async () => {
    const file = sshConfig(`Host box\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User root\n  IdentityFile ${sshd.identity}\n`);
    const r = await connectSsh(parseHost("box"), known(), { sshConfigFile: file });
    expect(r.label).toBe("box");
    expect((await r.exec(["id", "-un"])).stdout.trim()).toBe("root");
    await r.close();
  });

  test("User from ~/.ssh/config is the one that logs in; deploy.toml's user wins over it", async () => {
    const file = sshConfig(`Host box\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User nosuchuser\n  IdentityFile ${sshd.identity}\n`);
    const err = await remoteError(connectSsh(parseHost("box"), known(), { sshConfigFile: file }));
    expect(err.message).toBe(`box: the server refused the key ${sshd.identity} for user nosuchuser`);
    const r = await connectSsh(parseHost("root@box"), known(), { sshConfigFile: file });
    await r.close();
  });

  test("deploy.toml's port wins over Port", async () => {
    const closed = await freePort();
    const file = sshConfig(`Host box\n  HostName 127.0.0.1\n  Port ${closed}\n  IdentityFile ${sshd.identity}\n`);
    const err = await remoteError(connectSsh(parseHost("box"), known(), { sshConfigFile: file }));
    expect(err.message).toContain(`cannot connect to 127.0.0.1 port ${closed}: connection refused`);
    const r = await connectSsh(parseHost(`box:${sshd.port}`), known(), { sshConfigFile: file });
    await r.close();
  });

  test("every IdentityFile is offered in order (missing ones skipped); ssh.identity wins over them", async () => {
    const both = sshConfig(
      `Host box\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  IdentityFile ${join(work, "missing")}\n  IdentityFile ${sshd.wrongIdentity}\n  IdentityFile ${sshd.identity}\n`,
    );
    const r = await connectSsh(parseHost("box"), known(), { sshConfigFile: both });
    await r.close();
    const wrongOnly = sshConfig(`Host box\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  IdentityFile ${sshd.wrongIdentity}\n`);
    const err = await remoteError(connectSsh(parseHost("box"), known(), { sshConfigFile: wrongOnly }));
    expect(err.message).toBe(`box: the server refused the key ${sshd.wrongIdentity} for user root`);
    const r2 = await connectSsh(parseHost("box"), known({ identity: sshd.identity }), { sshConfigFile: wrongOnly });
    await r2.close();
  });

  test("ProxyJump (itself an alias) carries the connection; ssh.jump wins over it", async () => {
    const unreachable = await freePort();
    const file = sshConfig(
      [
        `Host box\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  IdentityFile ${sshd.identity}\n  ProxyJump bastion`,
        `Host dead\n  HostName 127.0.0.1\n  Port ${unreachable}\n  IdentityFile ${sshd.identity}\n  ProxyJump bastion`,
        `Host bastion\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  User root\n`,
      ].join("\n"),
    );
    const log: string[] = [];
    const r = await connectSsh(parseHost("box"), known(), { sshConfigFile: file, log: (l) => log.push(l) });
    expect((await r.exec(["printf", "%s", "via jump"])).stdout).toBe("via jump");
    await r.close();
    expect(log).toEqual([
      `box: jump host bastion: connected to root@127.0.0.1 port ${sshd.port} in ${/in (\d+) ms/.exec(log[0]!)?.[1]} ms`,
      `box: via jump host bastion: connected to root@127.0.0.1 port ${sshd.port} in ${/in (\d+) ms/.exec(log[1]!)?.[1]} ms`,
    ]);
    // Only the bastion's side of the tunnel can say it cannot reach the target.
    const err = await remoteError(connectSsh(parseHost("dead"), known(), { sshConfigFile: file }));
    expect(err.message).toBe(`dead: jump host bastion cannot reach 127.0.0.1 port ${unreachable}: Connection refused`);
    const direct = await freePort();
    const err2 = await remoteError(connectSsh(parseHost("dead"), known({ jump: `root@127.0.0.1:${direct}` }), { sshConfigFile: file }));
    expect(err2.message).toContain(`jump host root@127.0.0.1:${direct}: cannot connect to 127.0.0.1 port ${direct}: connection refused`);
  });

  test("~/.ssh/config is read by default", async () => {
    const home = mkdtempSync(join(tmpdir(), "qdeploy-home-"));
    const saved = process.env.HOME;
    process.env.HOME = home;
    try {
      mkdirSync(join(home, ".ssh"));
      writeFileSync(join(home, ".ssh", "config"), `Host box\n  HostName 127.0.0.1\n  Port ${sshd.port}\n  IdentityFile ~/.ssh/key\n`);
      copyFileSync(sshd.identity, join(home, ".ssh", "key"));
      const r = await connectSsh(parseHost("box"), known());
      await r.close();
    } finally {
      process.env.HOME = saved;
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("openConnections over SSH", () => {
  const connect = (h: HostAddress) => connectSsh(h, cfg());

  test("connects to all in parallel", async () => {
    const cs = await openConnections([addr(), addr()], connect);
    expect(cs.map((c) => c.remote.label)).toEqual([addr().label, addr().label]);
    await Promise.all(cs.map((c) => c.remote.close()));
  });

  test("one failure closes the rest and rethrows it", async () => {
    const port = await freePort();
    const err = await remoteError(openConnections([addr(), addr(port)], connect));
    expect(err.host).toBe(addr(port).label);
    expect(err.message).toContain("connection refused");
  });
});
