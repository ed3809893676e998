/**
 * The packs a push uploads: per host, one tar of the slug's blobs it lacks (by its facts).
 * Hosts that lack the same blobs share one pack file. Written under .qdeploy/build/packs.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { readSlugContents, type Slug } from "../build/slug.ts";
import type { HostFacts } from "../plan/facts.ts";
import type { Artifact, PackArtifact } from "../plan/push.ts";
import { blobName, missingBlobs, packEntries, slugEntries } from "../plan/slug.ts";
import { writeTar } from "../util/tar.ts";

/** Packs older than this are a past push's: removed when the next one writes its own. */
const STALE_MS = 60 * 60 * 1000;

/** By host label, the pack of what the host lacks of the slug (absent: it lacks nothing). */
export async function writeSlugPacks(slug: Slug, facts: HostFacts[], artifacts: Record<string, Artifact>, outDir: string): Promise<Record<string, PackArtifact>> {
  const dir = path.join(outDir, "packs");
  const packs: Record<string, PackArtifact> = {};
  const byBlobs = new Map<string, PackArtifact>();
  let removedStale = false;
  for (const f of facts) {
    const binaries = Object.fromEntries(Object.entries(artifacts[f.arch]?.binaries ?? {}).map(([n, b]) => [n, b.sha256]));
    const missing = missingBlobs(slugEntries(slug.files, binaries).entries, f.blobs);
    if (!missing.length) continue;
    const names = missing.map(blobName).sort();
    const key = names.join(" ");
    let pack = byBlobs.get(key);
    if (!pack) {
      if (!removedStale) {
        await removeStale(dir);
        removedStale = true;
      }
      const wanted = new Set(missing);
      const files = slug.files.filter((x) => wanted.has(x));
      const tar = writeTar(packEntries(files, await readSlugContents(slug.dir, files)));
      const sha256 = createHash("sha256").update(tar).digest("hex");
      const file = path.join(dir, `${sha256}.tar`);
      await mkdir(dir, { recursive: true });
      await writeFile(file, tar);
      pack = { path: file, sha256, size: tar.length, blobs: names };
      byBlobs.set(key, pack);
    }
    packs[f.host.label] = pack;
  }
  return packs;
}

async function removeStale(dir: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const file = path.join(dir, name);
    const st = await stat(file).catch(() => null);
    if (st && now - st.mtimeMs > STALE_MS) await rm(file, { force: true });
  }
}
