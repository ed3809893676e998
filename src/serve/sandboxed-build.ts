/**
 * Builds of commits the server received (webhook, POST push) run in a sandbox, never in the
 * server's process: a commit decides its own build ([env] GOFLAGS=-toolexec, cgo's CC, a
 * go.mod toolchain line with a GOPROXY of its choosing), and the server holds the SSH key for
 * every environment's hosts, the age identity for every environment's secrets and the API
 * tokens. The sandbox is one of:
 *
 * - the build socket `qdeploy serve --install` sets up (src/render/serve-unit.ts
 *   renderBuildSocket): each connection starts `qdeploy-build@.service`, a unit with
 *   DynamicUser (a uid of its own), PrivateTmp and the server's home made inaccessible;
 * - elsewhere (a laptop, a CI box) bubblewrap: a user, mount and pid namespace that holds
 *   only /usr, a few files of /etc, Go and qdeploy itself, read-only, and a fresh folder.
 *
 * Either way the worker (./build-worker.ts) gets the commit's files as a tar on its stdin
 * and answers with the programs' bytes, which are checked by sha256 here; nothing else comes
 * back. Its Go cache is fresh each time: a cache one commit could write would let a staging
 * push plant code in production's next build.
 */
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdtempSync, readlinkSync, realpathSync } from "node:fs";
import { chmod, mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildDir, type Builds, readAppSlug } from "../build/builds.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { BuildError } from "../errors.ts";
import type { EventSink } from "../events.ts";
import type { Build } from "../ops/context.ts";
import { SERVE_HOST } from "../render/serve-unit.ts";
import type { Artifact, BinaryArtifact } from "../plan/push.ts";
import type { BuildMessage, BuildRequest } from "./build-worker.ts";

/** The socket `qdeploy serve --install` makes; its connections start a build unit each. */
export const BUILD_SOCKET = SERVE_HOST.buildSocketPath;

/**
 * The server's variables a build may see: where Go fetches modules from, proxies, locale.
 * Never HOME, SSH_AUTH_SOCK, QDEPLOY_*, GIT_* or anything else of the server's.
 */
export const BUILD_ENV_ALLOWED = [
  "PATH", "LANG", "LC_ALL", "TZ", "NO_COLOR",
  "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR",
  "GOPROXY", "GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOSUMDB", "GOINSECURE", "GOFLAGS", "GOTOOLCHAIN", "GOAMD64", "GOARM64",
];

/** The longest a build may take in the sandbox. */
const BUILD_TIMEOUT_MS = 30 * 60_000;

/** The commit to build: its clean worktree (a Checkout of src/serve/checkout.ts). */
export interface CommitTree {
  /** The worktree's top folder. */
  dir: string;
  /** deploy.toml inside it. */
  configFile: string;
  commit: string;
}

/** A started sandbox: the worker's stdin and stdout. */
export interface SandboxProcess {
  write(bytes: Uint8Array): Promise<void>;
  output: AsyncIterable<Uint8Array>;
  /** Waits for the end; what the sandbox itself said when it failed (exit status, stderr). */
  ended(): Promise<string>;
  kill(): void;
}

export interface Sandbox {
  /** How it isolates, for the progress line. */
  name: string;
  start(): SandboxProcess;
}

/** The build for a served commit: the programs from the sandbox, the slug from the worktree. */
export function sandboxedBuild(tree: CommitTree, choose: () => Sandbox = chooseSandbox): Build {
  return (cfg, archs, events) => {
    const next = queue.then(() => buildInSandbox(tree, choose, cfg, archs, events));
    queue = next.catch(() => {});
    return next;
  };
}

// One build at a time: on the installed server builds share one dynamic user, who could reach
// into a build running beside it (and the socket takes one connection at a time).
let queue: Promise<unknown> = Promise.resolve();

async function buildInSandbox(tree: CommitTree, choose: () => Sandbox, cfg: ResolvedConfig, archs: string[], events: EventSink): Promise<Builds> {
  const started = performance.now();
  const sandbox = choose();
  const moduleDir = cfg.build.dir ?? path.dirname(tree.configFile);
  const outDir = buildDir(cfg);
  await mkdir(outDir, { recursive: true });
  const tar = await tarOf(tree.dir, outDir);
  try {
    const request: BuildRequest = {
      v: 1,
      env: cfg.env,
      config: path.relative(tree.dir, tree.configFile).split(path.sep).join("/"),
      archs,
      commit: tree.commit,
      processEnv: allowedEnv(process.env),
      shownAs: tree.dir,
      tarBytes: (await stat(tar)).size,
    };
    events({ type: "info", line: `building commit ${tree.commit.slice(0, 12)} in the build sandbox (${sandbox.name})` });
    const answer = await talk(sandbox.start(), request, tar, events, outDir);
    cfg.build.binaries = answer.binaries;
    const slug = await readAppSlug(moduleDir, path.dirname(tree.configFile), outDir);
    return { artifacts: answer.artifacts, git: tree.commit, seconds: (performance.now() - started) / 1000, slug };
  } finally {
    await rm(tar, { force: true });
  }
}

/** The server's own variables that the build may see (BUILD_ENV_ALLOWED). */
export function allowedEnv(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(BUILD_ENV_ALLOWED.flatMap((k) => (env[k] !== undefined ? [[k, env[k]!]] : [])));
}

/** The worktree's files (its .git file left out) as a tar in dir. */
async function tarOf(top: string, dir: string): Promise<string> {
  const file = path.join(dir, `.commit-${process.pid}-${Date.now()}.tar`);
  const p = Bun.spawn(["tar", "-C", top, "--exclude=./.git", "-cf", file, "."], { stdout: "ignore", stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) throw new BuildError(`tar of the commit's files failed (exit ${code}): ${err.trim()}`);
  return file;
}

/** Sends the request and the tar, reads the answer, keeps the programs (sha256 checked). */
async function talk(proc: SandboxProcess, request: BuildRequest, tar: string, events: EventSink, outDir: string): Promise<{ artifacts: Record<string, Artifact>; binaries: string[] }> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill();
  }, BUILD_TIMEOUT_MS);
  const blobs = new Map<string, number>();
  let answer: Extract<BuildMessage, { type: "artifacts" }> | null = null;
  let failure: string | null = null;
  let done = false;
  try {
    const sending = (async () => {
      await proc.write(Buffer.from(`${JSON.stringify(request)}\n`));
      for await (const chunk of Bun.file(tar).stream()) await proc.write(chunk);
    })();
    // A worker that fails early stops reading: its error is the news, not the broken pipe.
    sending.catch(() => {});
    for await (const line of lines(proc.output)) {
      const m = message(line);
      if (m.type === "info" || m.type === "warn") events({ type: "info", line: m.line });
      else if (m.type === "debug") events({ type: "debug", line: m.line });
      else if (m.type === "blob") blobs.set(m.sha256, await keepBlob(m, outDir));
      else if (m.type === "artifacts") answer = m;
      else if (m.type === "error") failure = m.message;
      else if (m.type === "done") done = true;
    }
    const said = await proc.ended();
    if (timedOut) throw new BuildError(`the build of commit ${request.commit.slice(0, 12)} was stopped after ${BUILD_TIMEOUT_MS / 60_000} min in the build sandbox`);
    if (failure !== null) throw new BuildError(`the build of commit ${request.commit.slice(0, 12)} failed in the build sandbox: ${failure}`);
    if (!done || !answer) throw new BuildError(`the build sandbox ended without an answer${said ? `: ${said}` : ""}`);
  } finally {
    clearTimeout(timer);
  }
  // The sandbox ran the commit's code: what it answers is checked like any input. Names become
  // paths on the hosts (bin/NAME), so they are plain; every arch asked for is there, no other.
  const names = answer.binaries;
  if (!Array.isArray(names) || !names.every((n) => typeof n === "string" && PROGRAM_NAME.test(n))) throw new BuildError(`the build sandbox named programs ${JSON.stringify(names).slice(0, 200)}, not plain names`);
  const archs = Object.keys(answer.artifacts ?? {});
  if (archs.sort().join() !== [...new Set(request.archs)].sort().join()) throw new BuildError(`the build sandbox built for ${archs.join(", ") || "nothing"}, not ${request.archs.join(", ")}`);
  const artifacts: Record<string, Artifact> = {};
  for (const [arch, programs] of Object.entries(answer.artifacts)) {
    const binaries: Record<string, BinaryArtifact> = {};
    for (const [name, b] of Object.entries(programs)) {
      if (!PROGRAM_NAME.test(name)) throw new BuildError(`the build sandbox named a program ${JSON.stringify(name).slice(0, 100)}, not a plain name`);
      if (typeof b?.sha256 !== "string" || blobs.get(b.sha256) !== b.size) throw new BuildError(`the build sandbox named ${name} (${arch}) sha256 ${b.sha256.slice(0, 12)}, which it did not send`);
      binaries[name] = { path: path.join(outDir, b.sha256), sha256: b.sha256, size: b.size };
    }
    artifacts[arch] = { binaries };
  }
  return { artifacts, binaries: answer.binaries };
}

/** A program's name as a release's bin/ holds it. */
const PROGRAM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** One line of the worker's answer, or a BuildError: a line of anything else is not believed. */
function message(line: string): BuildMessage {
  let m: unknown;
  try {
    m = JSON.parse(line);
  } catch {
    m = null;
  }
  const type = (m as { type?: unknown } | null)?.type;
  const ok =
    ((type === "info" || type === "debug" || type === "warn") && typeof (m as { line?: unknown }).line === "string") ||
    (type === "blob" && typeof (m as { sha256?: unknown }).sha256 === "string" && typeof (m as { data?: unknown }).data === "string") ||
    (type === "artifacts" && typeof (m as { artifacts?: unknown }).artifacts === "object") ||
    (type === "error" && typeof (m as { message?: unknown }).message === "string") ||
    type === "done";
  if (!ok) throw new BuildError(`the build sandbox answered something that is not a build message: ${JSON.stringify(line.slice(0, 120))}`);
  return m as BuildMessage;
}

/** Writes one program under its sha256, checked: the name is ours, never the sandbox's. */
async function keepBlob(m: Extract<BuildMessage, { type: "blob" }>, outDir: string): Promise<number> {
  const bytes = Buffer.from(m.data, "base64");
  const sha = createHash("sha256").update(bytes).digest("hex");
  if (sha !== m.sha256) throw new BuildError(`the build sandbox sent a program whose sha256 is ${sha.slice(0, 12)}, not the ${String(m.sha256).slice(0, 12)} it said`);
  const file = path.join(outDir, sha);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await chmod(tmp, 0o755);
  await rename(tmp, file);
  return bytes.length;
}

/** Splits a byte stream into lines (a program's line is its bytes in base64: megabytes). */
async function* lines(input: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  let parts: Buffer[] = [];
  for await (const chunk of input) {
    let buf = Buffer.from(chunk);
    let nl = buf.indexOf(10);
    while (nl >= 0) {
      parts.push(buf.subarray(0, nl));
      yield Buffer.concat(parts).toString("utf8");
      parts = [];
      buf = buf.subarray(nl + 1);
      nl = buf.indexOf(10);
    }
    if (buf.length) parts.push(buf);
  }
}

/** The build socket where `serve --install` made one, else bubblewrap, else a BuildError saying how to get one. */
export function chooseSandbox(): Sandbox {
  if (existsSync(BUILD_SOCKET)) return socketSandbox(BUILD_SOCKET);
  const bwrap = Bun.which("bwrap");
  if (bwrap) return bwrapSandbox(bwrap);
  throw new BuildError(
    "a commit the server receives is built in a sandbox, away from the server's SSH key, age identity and tokens, " +
      `and this machine has none: neither ${BUILD_SOCKET} (qdeploy serve --install makes it) nor bubblewrap; ` +
      (process.platform === "linux" ? "install bubblewrap (apt-get install bubblewrap) and start qdeploy serve again" : `both are Linux's, and this is ${process.platform}: run qdeploy serve on a Linux server (qdeploy serve --install ENV puts it there)`),
  );
}

/** A connection to the build socket: systemd starts the worker as qdeploy-build@.service. */
export function socketSandbox(socketPath: string): Sandbox {
  return {
    name: `${socketPath}, a unit with a user of its own`,
    start() {
      const sock = createConnection({ path: socketPath });
      let error = "";
      sock.on("error", (e) => (error = e.message));
      const closed = new Promise<void>((resolve) => sock.on("close", () => resolve()));
      return {
        write: (bytes) => new Promise((resolve, reject) => (sock.destroyed ? reject(new Error(error || "closed")) : sock.write(bytes, (e) => (e ? reject(e) : resolve())))),
        output: sock,
        ended: async () => {
          await closed;
          return error ? `${error} (journalctl -u 'qdeploy-build@*' says more)` : "";
        },
        kill: () => sock.destroy(),
      };
    },
  };
}

/** qdeploy's own files the worker runs from: the executable, or Bun and the sources. */
const SOURCE_ROOT = path.resolve(import.meta.dir, "../..");

/** bubblewrap: the worker as uid 65534 in namespaces of its own, with only what a build needs. */
export function bwrapSandbox(bwrap: string): Sandbox {
  return {
    name: "bubblewrap, namespaces of its own",
    start() {
      const work = mkdtempSync(path.join(tmpdir(), "qdeploy-sandbox-"));
      const args = [bwrap, ...bwrapArgs(work), "--", ...workerCommand()];
      const p = Bun.spawn(args, { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin" } });
      const stderr = new Response(p.stderr).text();
      const sink = p.stdin;
      return {
        write: async (bytes) => {
          sink.write(bytes);
          await sink.flush();
        },
        output: p.stdout,
        ended: async () => {
          await Promise.resolve(sink.end()).catch(() => {});
          const code = await p.exited;
          const err = (await stderr).trim();
          await rm(work, { recursive: true, force: true });
          return code === 0 ? "" : `bwrap exit ${code}${err ? `: ${err.split("\n").slice(-12).join("\n  ")}` : ""}`;
        },
        kill: () => p.kill(),
      };
    },
  };
}

/** How the sandbox starts the worker: this executable, or Bun with src/cli.ts. */
function workerCommand(): string[] {
  const cli = path.join(SOURCE_ROOT, "src/cli.ts");
  return existsSync(cli) ? [realpathSync(process.execPath), realpathSync(cli), "__build-worker"] : [realpathSync(process.execPath), "__build-worker"];
}

/** bubblewrap's arguments: what the sandbox sees, all read-only but `work` (its /tmp). */
export function bwrapArgs(work: string): string[] {
  const a = ["--unshare-all", "--share-net", "--unshare-user", "--uid", "65534", "--gid", "65534", "--die-with-parent", "--new-session", "--cap-drop", "ALL"];
  a.push("--ro-bind", "/usr", "/usr");
  // /bin, /lib...: symlinks into /usr on a merged-/usr system, folders of their own elsewhere.
  for (const top of ["/bin", "/sbin", "/lib", "/lib32", "/lib64"]) {
    const st = lstatSync(top, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) a.push("--symlink", readlinkSync(top), top);
    else if (st?.isDirectory()) a.push("--ro-bind", top, top);
  }
  // Name resolution and TLS roots for Go's module downloads; nothing else of /etc.
  for (const f of ["/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/alternatives"]) a.push("--ro-bind-try", f, f);
  a.push("--proc", "/proc", "--dev", "/dev", "--bind", work, "/tmp", "--chdir", "/tmp", "--setenv", "TMPDIR", "/tmp");
  const bound = new Set(["/usr"]);
  const bind = (p: string) => {
    if ([...bound].some((b) => p === b || p.startsWith(`${b}/`))) return;
    bound.add(p);
    a.push("--ro-bind", p, p);
  };
  // Go, where it is installed (its whole GOROOT: the compiler and the standard library).
  const go = Bun.which("go");
  if (go) bind(path.dirname(path.dirname(realpathSync(go))));
  // qdeploy: the executable, or Bun and the sources (never the checkout's .qdeploy/, .git or secrets/).
  bind(realpathSync(process.execPath));
  if (existsSync(path.join(SOURCE_ROOT, "src/cli.ts"))) {
    for (const f of ["src", "server", "caddy", "systemd", "node_modules", "package.json", "bunfig.toml", "tsconfig.json"]) {
      if (existsSync(path.join(SOURCE_ROOT, f))) bind(realpathSync(path.join(SOURCE_ROOT, f)));
    }
  }
  return a;
}
