/**
 * `qdeploy promote FROM TO [RELEASE]`, the deciding part: which release of FROM goes, from
 * which of its hosts per architecture, and its app folder read back as a slug. Pure.
 *
 * A release is content-addressed on its hosts (release.json names each program's sha256;
 * the app folder's files are hard links to blobs named by theirs), so what FROM runs can be
 * given to TO byte for byte, with TO's own config and secrets, and without a build.
 */
import { createHash } from "node:crypto";
import { OperationError } from "../errors.ts";
import type { HostFacts, ReleaseRecord } from "./facts.ts";
import type { SlugEntry } from "./slug.ts";

/** The release to promote and, per architecture, a host of FROM that has it (with its record there). */
export interface PromoteSource {
  release: string;
  /** `uname -m` -> the host to read that architecture's programs and files from. */
  hosts: Map<string, { facts: HostFacts; record: ReleaseRecord }>;
}

/**
 * The release named, else the one live on every host of FROM; it must have gone live there
 * (a refused release is not promoted). Each architecture's programs are read from its first
 * host that has the release.
 */
export function pickPromoted(facts: HostFacts[], named: string | null, env: string): PromoteSource {
  let release = named;
  if (release === null) {
    const live = [...new Set(facts.map((f) => f.live))];
    if (live.length === 1 && live[0] === null) throw new OperationError(`no release is live on ${env}: push it first, or name a release of it`);
    if (live.length !== 1) {
      const where = live.map((id) => `${id ?? "nothing"} on ${facts.filter((f) => f.live === id).map((f) => f.host.label).join(", ")}`);
      throw new OperationError(`${env}'s hosts run different releases (${where.join("; ")}): name the one to promote`);
    }
    release = live[0]!;
  }
  const hosts = new Map<string, { facts: HostFacts; record: ReleaseRecord }>();
  let activated = false;
  for (const f of facts) {
    const record = f.releases.find((r) => r.id === release);
    if (!record) continue;
    activated ||= record.activated;
    if (!hosts.has(f.arch)) hosts.set(f.arch, { facts: f, record });
  }
  if (hosts.size === 0) {
    const have = [...new Set(facts.flatMap((f) => f.releases.map((r) => r.id)))].sort().join(", ") || "none";
    throw new OperationError(`release ${release} is not on any host of ${env} (they have: ${have})`);
  }
  if (!activated) throw new OperationError(`release ${release} never went live on ${env} (its health check or switch refused it): promote one that did`);
  return { release, hosts };
}

/** The programs of a release record by name (releases of older qdeploys name only the primary one). */
export function recordBinaries(record: Pick<ReleaseRecord, "sha256" | "binaries">, primaryName: string): Record<string, string> {
  return record.binaries ?? { [primaryName]: record.sha256 };
}

/**
 * The app folder of a release, as promoteCommands' manifest lists it, read back as slug
 * entries: each file is the blob of its inode (a `.r` blob a plain file, else an executable),
 * each symlink its target. The programs' `bin/NAME` links are left out (the release adds them
 * from its binaries, as a push does). A file that is no blob was changed on the host by hand:
 * an error, since its bytes cannot be vouched for.
 */
export function parseAppManifest(text: string, binaries: Record<string, string>, where: string): SlugEntry[] {
  const fields = text.split("\0");
  const blobs = new Map<string, string>();
  const files: SlugEntry[] = [];
  let i = 0;
  const next = () => {
    if (i >= fields.length - 1) throw new OperationError(`${where}: the app folder's listing ended mid-record`);
    return fields[i++]!;
  };
  while (i < fields.length - 1) {
    const tag = next();
    if (tag === "B") {
      const inode = next();
      blobs.set(inode, next());
      continue;
    }
    if (tag !== "F") throw new OperationError(`${where}: the app folder's listing has an unknown record "${tag.slice(0, 20)}"`);
    const [inode, type, size, path, target] = [next(), next(), next(), next(), next()];
    // As the slug's own rule (src/build/slug.ts): nothing a tar on TO's hosts could place outside the release.
    if (path === "" || path.startsWith("/") || path.split("/").some((x) => x === "" || x === "." || x === "..") || /[\x00-\x1f\x7f]/.test(path)) {
      throw new OperationError(`${where}: the app folder lists ${JSON.stringify(path)}, which no release holds`);
    }
    if (type === "l") {
      files.push({ path, kind: "symlink", sha256: createHash("sha256").update(target).digest("hex"), size: Buffer.byteLength(target), target });
      continue;
    }
    const blob = blobs.get(inode);
    if (!blob || !/^[0-9a-f]{64}(\.r)?$/.test(blob)) throw new OperationError(`${where}: app/${path} is not one of the host's blobs (was it changed by hand?); push instead`);
    const sha256 = blob.slice(0, 64);
    const name = path.startsWith("bin/") ? path.slice(4) : null;
    if (name !== null && binaries[name] === sha256) continue;
    files.push({ path, kind: blob.endsWith(".r") ? "file" : "exec", sha256, size: Number(size) });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The architectures TO's hosts need that FROM's release was not built for, with a host of each. */
export function missingArchs(source: PromoteSource, to: HostFacts[]): string[] {
  const first = new Map<string, string>();
  for (const f of to) if (!source.hosts.has(f.arch) && !first.has(f.arch)) first.set(f.arch, f.host.label);
  return [...first].map(([arch, label]) => `${arch} (${label})`);
}
