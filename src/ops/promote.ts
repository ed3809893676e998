/**
 * `qdeploy promote FROM TO [RELEASE]`: a release of FROM, byte for byte (its programs and
 * app folder), becomes TO's next release with TO's config and secrets, through TO's usual
 * push (lock, release phase, health-gated switch wave by wave). Nothing is built. Only what
 * TO's hosts lack and this machine does not keep already is read from FROM's hosts, once.
 */
import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { buildDir, type Builds } from "../build/builds.ts";
import type { SlugFile } from "../build/slug.ts";
import { OperationError } from "../errors.ts";
import type { EventSink } from "../events.ts";
import type { HostFacts } from "../plan/facts.ts";
import { missingArchs, parseAppManifest, pickPromoted, recordBinaries } from "../plan/promote.ts";
import type { Artifact } from "../plan/push.ts";
import { blobName, missingBlobs, type SlugEntry } from "../plan/slug.ts";
import { gatherFacts } from "../remote/host-ops.ts";
import type { Remote } from "../remote/remote.ts";
import { promoteCommands } from "../server-commands.ts";
import { base64Stream } from "../util/base64-stream.ts";
import { formatBytes } from "../util/bytes.ts";
import { readTar } from "../util/tar.ts";
import type { OpContext } from "./context.ts";
import { type DeployOptions, type DeployReport, push } from "./deploy.ts";
import { withConnections } from "./sessions.ts";

/** FROM's release as TO's next one: `from` is FROM's context (its hosts, how to reach them). */
export async function promote(from: OpContext, to: OpContext, named: string | null, opts: DeployOptions = {}): Promise<DeployReport> {
  const started = performance.now();
  return withConnections(from.cfg.hosts, from.connect, async (connections) => {
    const facts = await Promise.all(connections.map((c) => gatherFacts(c.remote, c.host, from.cfg.app)));
    const source = pickPromoted(facts, named, from.cfg.env);
    const remoteOf = (f: HostFacts) => connections.find((c) => c.host.label === f.host.label)!.remote;
    const apps = new Map<string, { binaries: Record<string, string>; files: SlugEntry[] }>();
    for (const [arch, { facts: f, record }] of source.hosts) {
      const binaries = recordBinaries(record, from.cfg.build.binary);
      const r = await remoteOf(f).exec(promoteCommands.manifest(from.cfg.app, source.release), { check: false });
      if (r.code !== 0) throw new OperationError(`${f.host.label}: the app folder of release ${source.release} could not be read (exit ${r.code}): ${r.stderr.trim() || "no message"}`);
      apps.set(arch, { binaries, files: parseAppManifest(r.stdout, binaries, f.host.label) });
    }
    const git = [...source.hosts.values()][0]!.record.git;
    to.events({ type: "info", line: `promoting ${from.cfg.env}'s release ${source.release}${git ? ` (git ${git.slice(0, 12)})` : ""} to ${to.cfg.env}: no build` });
    const builds = async (toFacts: HostFacts[]): Promise<Builds> => {
      const lacking = missingArchs(source, toFacts);
      if (lacking.length) {
        throw new OperationError(`release ${source.release} of ${from.cfg.env} has no programs for ${lacking.join(", ")} (it was built for ${[...source.hosts.keys()].join(", ")}); push ${to.cfg.env} instead`);
      }
      const dir = buildDir(to.cfg);
      const artifacts: Record<string, Artifact> = {};
      let files: SlugFile[] = [];
      for (const [arch, app] of apps) {
        const on = toFacts.filter((f) => f.arch === arch);
        if (!on.length) continue;
        // Programs where builds are kept (a later push patches against them); the app folder's files beside.
        const programs = new Set(Object.values(app.binaries));
        const local = (name: string) => (programs.has(name) ? path.join(dir, name) : path.join(dir, "blobs", name));
        const wanted = blobsToFetch(app, on).filter((name) => !existsSync(local(name)));
        if (wanted.length) await fetchBlobs(remoteOf(source.hosts.get(arch)!.facts), from.cfg.app, wanted, local, to.events);
        artifacts[arch] = { binaries: Object.fromEntries(Object.entries(app.binaries).map(([n, sha]) => [n, { path: local(sha), sha256: sha, size: sizeOf(local(sha)) }])) };
        files = app.files.map((f) => ({ ...f, source: { file: f.kind === "symlink" ? "" : local(blobName(f)) } }));
      }
      // The release's programs are the ones its units may start (as a build sets them).
      to.cfg.build.binaries = Object.keys([...apps.values()][0]!.binaries).sort();
      const notes = [`the app folder of ${from.cfg.env}'s release ${source.release}: ${files.length} file${files.length === 1 ? "" : "s"}, as it is there`];
      return { artifacts, git, seconds: (performance.now() - started) / 1000, ...(files.length && { slug: { dir, files, commit: null, ignored: 0, notes } }) };
    };
    const report = await push(to, { ...opts, promote: { from: { env: from.cfg.env, release: source.release }, builds } });
    return { ...report, action: "promote" };
  });
}

/** Blob names TO's hosts of one architecture lack: the programs, then the app folder's files. */
function blobsToFetch(app: { binaries: Record<string, string>; files: SlugEntry[] }, on: HostFacts[]): string[] {
  const names = new Set<string>();
  for (const f of on) {
    for (const sha of Object.values(app.binaries)) if (!f.blobs.includes(sha)) names.add(sha);
    for (const e of missingBlobs(app.files, f.blobs)) names.add(blobName(e));
  }
  return [...names].sort();
}

/**
 * The named blobs of FROM's host into this machine's build folder (`local(name)`), each
 * checked against its sha256 before it is renamed into place: one tar, one round trip.
 */
async function fetchBlobs(remote: Remote, app: string, names: string[], local: (name: string) => string, events: EventSink): Promise<void> {
  const chunks: Buffer[] = [];
  const decoded = base64Stream((b) => chunks.push(b));
  const t0 = performance.now();
  const r = await remote.exec(promoteCommands.blobs(app, names), { onStdout: decoded.write, check: false });
  decoded.end();
  if (r.code !== 0) throw new OperationError(`${remote.label}: reading ${names.length} blob${names.length === 1 ? "" : "s"} failed (exit ${r.code}): ${r.stderr.trim().split("\n").at(-1) ?? ""}; a push there may have pruned them: try again`);
  const tar = Buffer.concat(chunks);
  const got = new Set<string>();
  for (const { name, data } of readTar(tar)) {
    if (!names.includes(name)) throw new OperationError(`${remote.label}: the blobs' archive holds ${name}, which was not asked for`);
    const sha = createHash("sha256").update(data).digest("hex");
    if (sha !== name.slice(0, 64)) throw new OperationError(`${remote.label}: blob ${name} reads as sha256 ${sha}: it is corrupt on the host`);
    const file = local(name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(`${file}.part`, data, { mode: name.endsWith(".r") ? 0o644 : 0o755 });
    await rename(`${file}.part`, file);
    got.add(name);
  }
  const lost = names.filter((n) => !got.has(n));
  if (lost.length) throw new OperationError(`${remote.label}: ${lost.length} blob${lost.length === 1 ? "" : "s"} did not come back (${lost[0]!.slice(0, 12)}...)`);
  events({ type: "info", line: `read ${names.length} file${names.length === 1 ? "" : "s"} (${formatBytes(tar.length)}) from ${remote.label} in ${((performance.now() - t0) / 1000).toFixed(1)}s` });
}

/** A program's size for the summary: 0 when it is not here (then every host has it: nothing is sent). */
function sizeOf(file: string): number {
  return statSync(file, { throwIfNoEntry: false })?.size ?? 0;
}
