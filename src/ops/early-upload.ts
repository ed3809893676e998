/**
 * A push sends each host its changed binary beside the deploy lock's round trip, not after
 * it. The last push to a host recorded which blob of each binary it sent there
 * (./host-records.ts); the new build goes as a zstd patch against that blob, which the
 * host most likely keeps (its releases link it), while the lock is taken and the facts come
 * back. Before the lock only a blob is written: named by its sha256, checked, renamed into
 * place whole. The prune spares blobs younger than PRUNE_AFTER_MIN minutes (src/plan/push.ts),
 * so one sent here is still there when the release links it; when the guess missed, the
 * plan's own upload runs.
 */
import path from "node:path";
import type { Builds } from "../build/builds.ts";
import type { ResolvedConfig } from "../config/types.ts";
import type { EventSink } from "../events.ts";
import { formatBytes } from "../util/bytes.ts";
import type { SentRecord } from "./host-records.ts";
import type { Remote } from "../remote/remote.ts";
import type { EarlyBlobs } from "../remote/run-plan.ts";
import { layout } from "../server-layout.ts";

/**
 * Sends the binaries of `builds` (once built) that differ from `last`, one after another (they
 * share the uplink), each as a patch against the blob `last` names for it. Never rejects: what
 * failed is left out, and the plan's own upload sends it.
 */
export async function sendEarly(cfg: ResolvedConfig, remote: Remote, last: SentRecord, builds: Promise<Builds | null>, events: EventSink): Promise<EarlyBlobs> {
  const l = layout(cfg.app);
  const sent: EarlyBlobs = new Map();
  const binaries = (await builds.catch(() => null))?.artifacts[last.arch]?.binaries ?? {};
  for (const [name, base] of Object.entries(last.binaries)) {
    const b = binaries[name];
    if (!b || b.sha256 === base || sent.has(b.sha256)) continue;
    events({ type: "host", host: remote.label, line: `uploading the ${last.arch} binary${Object.keys(binaries).length > 1 ? ` ${name}` : ""} (${formatBytes(b.size)} raw) while taking the lock` });
    try {
      const r = await remote.upload(b.path, l.blob(b.sha256), {
        sha256: b.sha256,
        compression: last.compression,
        base: { local: path.join(path.dirname(b.path), base), remote: l.blob(base) },
      });
      sent.set(b.sha256, { ...r, against: base, at: Date.now() });
    } catch (e) {
      // The plan's upload sends it, and says what fails.
      events({ type: "debug", line: `${remote.label} the upload beside the lock failed (${e instanceof Error ? e.message : String(e)}); the usual upload follows` });
    }
  }
  return sent;
}
