/**
 * The environment's recent deploys for the dashboard's chart, from what the hosts keep: each
 * release's record (created: when its push had built it) and the audit log (when a host took
 * it live, or refused it). Pure.
 */
import type { AuditEntry } from "../ops/audit.ts";
import type { FleetRelease } from "../ops/releases.ts";

/** One push as the hosts remember it. */
export interface DeployPoint {
  release: string;
  /** When its last host took it live or refused it (ISO 8601). */
  at: string;
  /** From the release's creation (built, about to upload) to that moment. */
  seconds: number;
  outcome: "live" | "refused";
}

/**
 * A release's first "activated" or "refused" line on each host is its push (later activations
 * are rollbacks and restarts, which have no duration of their own); the push took as long as
 * its slowest host, and failed if a host refused it. Oldest first.
 */
export function deployHistory(audit: AuditEntry[], releases: FleetRelease[]): DeployPoint[] {
  const created = new Map(releases.map((r) => [r.id, Date.parse(r.created)]));
  const firstOnHost = new Map<string, { at: number; refused: boolean }>();
  for (const e of [...audit].sort((a, b) => a.time.localeCompare(b.time))) {
    const m = /^(activated|refused) (\d+) /.exec(e.line);
    if (!m || !created.has(m[2]!)) continue;
    const key = `${m[2]} ${e.host}`;
    if (!firstOnHost.has(key)) firstOnHost.set(key, { at: Date.parse(e.time), refused: m[1] === "refused" });
  }
  const byRelease = new Map<string, { at: number; refused: boolean }>();
  for (const [key, v] of firstOnHost) {
    const id = key.split(" ")[0]!;
    const p = byRelease.get(id);
    byRelease.set(id, { at: Math.max(p?.at ?? 0, v.at), refused: (p?.refused ?? false) || v.refused });
  }
  return [...byRelease.entries()]
    .filter(([id, v]) => Number.isFinite(created.get(id)) && Number.isFinite(v.at))
    .map(([release, v]) => ({ release, at: new Date(v.at).toISOString(), seconds: Math.max(0, (v.at - created.get(release)!) / 1000), outcome: v.refused ? ("refused" as const) : ("live" as const) }))
    .sort((a, b) => a.at.localeCompare(b.at));
}
