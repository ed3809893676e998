/**
 * Planning the slug on a host, purely: which of its files the host lacks (one pack of
 * blobs to upload), and the release's `app/` folder as a tree of hard links to blobs,
 * with the programs in `app/bin/`. Everything is content-addressed, so five kept releases
 * of one app hold each distinct file once.
 */
import { gzipSync } from "node:zlib";
import type { SlugFile } from "../build/slug.ts";
import { type TarEntry, writeTar } from "../util/tar.ts";
import { formatBytes } from "../util/bytes.ts";

/** What the host-side tree needs of a file (no local source). */
export type SlugEntry = Pick<SlugFile, "path" | "kind" | "sha256" | "size" | "target">;

/**
 * A file's blob on the host: its sha256, mode 0755 for an executable (the name binaries
 * have), and `SHA.r` (0644) for a plain file, so one content in both modes is two blobs.
 */
export function blobName(f: Pick<SlugFile, "kind" | "sha256">): string {
  return f.kind === "exec" ? f.sha256 : `${f.sha256}.r`;
}

/** The slug's files as they land in the release: a program's `bin/NAME` wins over a tracked file there. */
export function slugEntries(files: SlugEntry[], binaries: Record<string, string>): { entries: SlugEntry[]; notes: string[] } {
  const bins = new Set(Object.keys(binaries).map((n) => `bin/${n}`));
  const notes: string[] = [];
  const entries = files.filter((f) => {
    // A tracked bin/NAME, or a `bin` that is not a folder, would collide with the programs.
    const collides = bins.has(f.path) || (f.path === "bin" && bins.size > 0);
    if (collides) notes.push(`the slug's ${f.path} is replaced by the built program${f.path === "bin" ? "s" : ""} (as on Heroku, bin/ holds what was compiled)`);
    return !collides;
  });
  return { entries, notes };
}

/** The blobs among `files` that the host (its blob names) lacks, each once. */
export function missingBlobs<F extends Pick<SlugFile, "kind" | "sha256">>(files: F[], hostBlobs: Iterable<string>): F[] {
  const have = new Set(hostBlobs);
  const seen = new Set<string>();
  return files.filter((f) => {
    if (f.kind === "symlink") return false;
    const name = blobName(f);
    if (have.has(name) || seen.has(name)) return false;
    seen.add(name);
    return true;
  });
}

/** The pack of blobs for the host: a tar whose members are named by blob (read by `switch unpack`). */
export function packEntries(files: SlugEntry[], contents: Map<string, Uint8Array>): TarEntry[] {
  return files.map((f) => {
    const data = contents.get(f.sha256);
    if (!data) throw new Error(`no bytes for ${f.path} (${f.sha256.slice(0, 12)})`);
    return { type: "file", name: blobName(f), mode: f.kind === "exec" ? 0o755 : 0o644, data };
  });
}

/**
 * The release's folder as a gzipped tar, paths relative to the app's root on the host: the
 * folders `releases/ID/{,bin,units,app}` (0755), every program's `releases/ID/bin/NAME`, and
 * `releases/ID/app/PATH`: hard links to `blobs/NAME` (the files and every program's
 * `bin/NAME`), symlinks as committed. `switch link` extracts it from its stdin: one
 * process, however many files.
 */
export function renderAppTree(releaseId: string, entries: SlugEntry[], binaries: Record<string, string>): Uint8Array {
  const release = `releases/${releaseId}`;
  const dir = `${release}/app`;
  const programs = Object.entries(binaries).sort();
  const tar: TarEntry[] = [
    ...[release, `${release}/bin`, `${release}/units`, dir].map((name): TarEntry => ({ type: "dir", name, mode: 0o755 })),
    // Hard links keep each blob's link count above 1 while a release uses it (the prune's test).
    ...programs.map(([name, sha]): TarEntry => ({ type: "hardlink", name: `${release}/bin/${name}`, target: `blobs/${sha}` })),
    ...entries.map((f): TarEntry =>
      f.kind === "symlink" ? { type: "symlink", name: `${dir}/${f.path}`, target: f.target ?? "" } : { type: "hardlink", name: `${dir}/${f.path}`, target: `blobs/${blobName(f)}` },
    ),
    ...programs.map(([name, sha]): TarEntry => ({ type: "hardlink", name: `${dir}/bin/${name}`, target: `blobs/${sha}` })),
  ];
  // level 9 and no timestamp (node writes none): the same tree gives the same bytes.
  return gzipSync(writeTar(tar), { level: 9 });
}

/** One line on what the slug holds and what this host needs of it. */
export function describeSlug(entries: SlugEntry[], missing: SlugEntry[], ignored: number): string {
  const bytes = entries.reduce((n, f) => n + f.size, 0);
  const sent = missing.reduce((n, f) => n + f.size, 0);
  const left = ignored ? ` (${ignored} left out by .slugignore or as qdeploy's own)` : "";
  const need = missing.length === 0 ? "all already on the host" : `${missing.length} new to this host (${formatBytes(sent)}), in one pack`;
  return `slug: ${entries.length} files, ${formatBytes(bytes)}${left}; ${need}`;
}
