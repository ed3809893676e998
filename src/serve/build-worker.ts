/**
 * The build of a commit the server received, run inside the build sandbox (src/serve/
 * sandboxed-build.ts): as `qdeploy __build-worker`, under its own identity, with nothing of
 * the server's (no SSH key, no age identity, no token file) in reach. It reads one request on
 * stdin, a JSON line then the commit's files as a tar, builds them in a fresh folder with a
 * fresh Go cache, and answers on stdout, one JSON message a line: progress, each program's
 * bytes (base64), the artifacts, then "done" or "error". The commit's own settings ([env],
 * GOFLAGS, cgo) apply here: whatever they run, runs in here.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile } from "node:fs/promises";
import path from "node:path";
import { buildForArchs } from "../build/builds.ts";
import { loadWithPackages } from "../config/check-packages.ts";
import { requireEnvironment } from "../config/load.ts";
import { plainEvents } from "../events.ts";

/** What the server sends first, on one line; `tarBytes` bytes of tar follow it. */
export interface BuildRequest {
  v: 1;
  /** The environment to build (deploy.toml's environments.NAME). */
  env: string;
  /** deploy.toml's path inside the tar (posix, relative). */
  config: string;
  /** The hosts' `uname -m`s. */
  archs: string[];
  /** The commit the files are from (stamped as {git.sha}). */
  commit: string;
  /** The build's process environment: the server's allowlisted variables (sandboxed-build.ts BUILD_ENV_ALLOWED). */
  processEnv: Record<string, string>;
  /** Where the files are on the server, to say in messages instead of the sandbox's folder. */
  shownAs: string;
  tarBytes: number;
}

/** One line of the answer. */
export type BuildMessage =
  | { type: "info" | "debug" | "warn"; line: string }
  | { type: "blob"; sha256: string; data: string }
  | { type: "artifacts"; artifacts: Record<string, Record<string, { sha256: string; size: number }>>; binaries: string[]; seconds: number }
  | { type: "done" }
  | { type: "error"; message: string };

/** The longest request line read before the tar. */
const MAX_HEADER = 1 << 20;

/** Runs one build from stdin to stdout; the exit status. */
export async function runBuildWorker(input: AsyncIterable<Uint8Array>, send: (m: BuildMessage) => Promise<void>): Promise<number> {
  let shown = (s: string) => s;
  try {
    const base = await mkdtemp(path.join(process.env.TMPDIR || "/tmp", "qdeploy-build-"));
    const tree = path.join(base, "src");
    const req = await receive(input, tree);
    shown = (s: string) => s.split(tree).join(req.shownAs);
    // Only what the server allowed, and a home and Go caches of this build's own.
    for (const k of Object.keys(process.env)) delete process.env[k];
    Object.assign(process.env, req.processEnv, {
      HOME: path.join(base, "home"),
      TMPDIR: path.join(base, "tmp"),
      GOCACHE: path.join(base, "cache", "go-build"),
      GOMODCACHE: path.join(base, "cache", "mod"),
      GOPATH: path.join(base, "go"),
      XDG_CACHE_HOME: path.join(base, "cache"),
    });
    for (const d of ["home", "tmp", "cache"]) await mkdir(path.join(base, d), { recursive: true });
    const cfg = requireEnvironment(path.join(tree, req.config), await loadWithPackages(path.join(tree, req.config), req.env, { build: true }));
    // The build's progress as the server shows it: final lines only (plainEvents), one kind each.
    const events = plainEvents((e) => {
      if (e.type === "wave" || e.type === "locked" || e.type === "progress") return;
      const type = e.type === "debug" ? "debug" : e.type === "info" || e.type === "host" ? "info" : "warn";
      void send({ type, line: shown(e.line) });
    });
    const builds = await buildForArchs(cfg, req.archs, events, { git: { sha: req.commit, dirty: false }, slug: false });
    const artifacts: Record<string, Record<string, { sha256: string; size: number }>> = {};
    const sent = new Set<string>();
    for (const [arch, a] of Object.entries(builds.artifacts)) {
      artifacts[arch] = {};
      for (const [name, b] of Object.entries(a.binaries)) {
        if (!sent.has(b.sha256)) {
          const bytes = await readFile(b.path);
          await send({ type: "blob", sha256: createHash("sha256").update(bytes).digest("hex"), data: bytes.toString("base64") });
          sent.add(b.sha256);
        }
        artifacts[arch]![name] = { sha256: b.sha256, size: b.size };
      }
    }
    await send({ type: "artifacts", artifacts, binaries: cfg.build.binaries ?? [cfg.build.binary], seconds: builds.seconds });
    await send({ type: "done" });
    return 0;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    await send({ type: "error", message: shown(message) });
    return 1;
  }
}

/** Reads the request line, then its tar into `tree` (through tar -x). */
async function receive(input: AsyncIterable<Uint8Array>, tree: string): Promise<BuildRequest> {
  await mkdir(tree, { recursive: true });
  let head = Buffer.alloc(0);
  let req: BuildRequest | null = null;
  let tar: ReturnType<typeof Bun.spawn> | null = null;
  let left = 0;
  for await (const chunk of input) {
    let rest = Buffer.from(chunk);
    if (!req) {
      head = Buffer.concat([head, rest]);
      const nl = head.indexOf(10);
      if (nl < 0) {
        if (head.length > MAX_HEADER) throw new Error("the build request has no end of line");
        continue;
      }
      req = JSON.parse(head.subarray(0, nl).toString("utf8")) as BuildRequest;
      if (req.v !== 1 || typeof req.tarBytes !== "number" || !/^[A-Za-z0-9._/-]+$/.test(req.config) || req.config.split("/").includes("..")) throw new Error("a build request this qdeploy does not know");
      rest = head.subarray(nl + 1);
      left = req.tarBytes;
      tar = Bun.spawn(["tar", "-x", "--no-same-owner", "-C", tree, "-f", "-"], { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
    }
    const take = rest.subarray(0, left);
    left -= take.length;
    const sink = tar!.stdin as import("bun").FileSink;
    sink.write(take);
    if (left === 0) break;
  }
  if (!req || !tar || left > 0) throw new Error(`the build request ended early (${left} bytes of the commit's files missing)`);
  const sink = tar.stdin as import("bun").FileSink;
  await sink.end();
  const [code, err] = await Promise.all([tar.exited, new Response(tar.stderr as ReadableStream).text()]);
  if (code !== 0) throw new Error(`tar -x of the commit's files failed (exit ${code}): ${err.trim()}`);
  return req;
}

/** `qdeploy __build-worker`: stdin and stdout as the sandbox gives them (a pipe, or the build socket's connection). */
export async function buildWorkerMain(): Promise<number> {
  const stdout = process.stdout;
  const send = (m: BuildMessage) =>
    new Promise<void>((resolve, reject) => {
      stdout.write(`${JSON.stringify(m)}\n`, (e) => (e ? reject(e) : resolve()));
    });
  return runBuildWorker(process.stdin as AsyncIterable<Uint8Array>, send);
}
