/** `audit`: the hosts' audit logs (one line per switch, refusal and restart), merged by time. */
import { layout } from "../server-layout.ts";
import type { OpContext } from "./context.ts";
import { type HostFilter, selectHosts, withConnections } from "./sessions.ts";

/** One line of a host's audit.log. */
export interface AuditEntry {
  host: string;
  /** UTC, as switch.sh writes it (2026-12-02T10:00:00Z). */
  time: string;
  /** What happened: "activated 20261202100000 by alice@laptop", "refused ...", "restarted web". */
  line: string;
}

/** The newest `lines` entries of every host's audit.log, newest first. */
export async function audit(op: OpContext, o: { lines?: number } = {}, filter: HostFilter = {}): Promise<AuditEntry[]> {
  const lines = o.lines ?? 100;
  const file = layout(op.cfg.app).audit;
  const perHost = await withConnections(selectHosts(op.cfg, filter), op.connect, (connections) =>
    Promise.all(
      connections.map(async ({ host, remote }) => {
        // No audit.log yet (nothing deployed) is an empty history, not an error.
        const out = await remote.exec(["sh", "-c", 'if [ -f "$1" ]; then exec tail -n "$2" "$1"; fi', "sh", file, String(lines)]);
        return parseAudit(host.label, out.stdout);
      }),
    ),
  );
  return perHost
    .flat()
    .sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : a.host.localeCompare(b.host)))
    .slice(0, lines);
}

/** audit.log's text as entries; a line without the leading time is kept with time "". */
export function parseAudit(host: string, text: string): AuditEntry[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (.*)$/.exec(l);
      return m ? { host, time: m[1]!, line: m[2]! } : { host, time: "", line: l };
    });
}
