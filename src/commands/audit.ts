/** `qdeploy audit ENV [-n N] [--json]`: who switched what when, the hosts' audit logs merged (src/ops/audit.ts). */
import { type AuditEntry, audit } from "../ops/audit.ts";
import type { HostFilter } from "../ops/sessions.ts";
import { type Ctx, loadEnvironment, opContext } from "./context.ts";

/** One audit line split for people: what happened, and who did it ("" when the line names nobody). */
export interface AuditRow {
  time: string;
  host: string;
  what: string;
  who: string;
  /** The line as the host wrote it (after the time). */
  line: string;
}

/**
 * Splits what switch.sh's `audit` writes (server/switch.sh):
 *   activated ID by WHO[ (restart)][ (web only)]
 *   activated ID by reconcile (an interrupted switch had made it live)
 *   refused ID by WHO: WHY
 *   reverted ID to ID2 by WHO   (a switch back from ID after a refused wave)
 *   restarted PROC by WHO
 *   maintenance on|off by WHO[ (custom page)]   (src/ops/maintenance.ts)
 * WHO is `user@machine`, `TOKEN@qdeploy-serve` or "the timer"; it may hold spaces
 * (QDEPLOY_USER), so the known tails are taken off the end rather than cutting at a space.
 */
export function describeAudit(e: AuditEntry): AuditRow {
  const row = (what: string, who: string): AuditRow => ({ time: e.time, host: e.host, what, who, line: e.line });
  const refused = /^(refused \S+) by (.*?): (.*)$/.exec(e.line);
  if (refused) return row(`${refused[1]}: ${refused[3]}`, refused[2]!);
  const reconciled = /^(activated \S+) by reconcile \((.*)\)$/.exec(e.line);
  if (reconciled) return row(`${reconciled[1]} (${reconciled[2]})`, "reconcile");
  const activated = /^(activated \S+) by (.*?)( \(restart\))?( \(web only\))?$/.exec(e.line);
  if (activated) return row(`${activated[1]}${activated[3] ?? ""}${activated[4] ?? ""}`, activated[2]!);
  const maintenance = /^(maintenance (?:on|off)) by (.*?)( \(custom page\))?$/.exec(e.line);
  if (maintenance) return row(`${maintenance[1]}${maintenance[3] ?? ""}`, maintenance[2]!);
  const other = /^(.*?) by (.+)$/.exec(e.line);
  if (other) return row(other[1]!, other[2]!);
  return row(e.line, "");
}

/** The table `audit` prints: a header, then one row per entry, columns padded to the widest. */
export function renderAuditTable(rows: AuditRow[]): string[] {
  if (!rows.length) return ["(no audit entries)"];
  const cells = [["TIME", "HOST", "WHAT", "WHO"], ...rows.map((r) => [r.time || "-", r.host, r.what, r.who || "-"])];
  const widths = [0, 1, 2].map((i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells.map((c) => c.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join("  ").trimEnd());
}

/** `qdeploy audit ENV`: the newest `lines` entries of every (filtered) host, newest first; `--json` gives `{entries}`. */
export async function auditCommand(ctx: Ctx, env: string, o: { lines: number }, filter: HostFilter): Promise<void> {
  const cfg = await loadEnvironment(ctx, env);
  const rows = (await audit(opContext(ctx, cfg), { lines: o.lines }, filter)).map(describeAudit);
  ctx.out.data({ entries: rows });
  for (const line of renderAuditTable(rows)) ctx.out.result(line);
}
