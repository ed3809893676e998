/**
 * Review apps: deploy, list and destroy the previews of `[previews]` (src/plan/review-app.ts
 * says what one is). The hosts are the record: each preview's folder holds its preview.json,
 * so the CLI and `qdeploy serve` see the same previews.
 */
import type { PreviewIdentity } from "../config/types.ts";
import { OperationError, UsageError } from "../errors.ts";
import { overLimit, previewConfig, previewHost, previewRecord, type PreviewRecord } from "../plan/review-app.ts";
import { previewCommands } from "../server-commands.ts";
import { layout } from "../server-layout.ts";
import type { OpContext } from "./context.ts";
import * as deploy from "./deploy.ts";
import type { DeployReport } from "./deploy.ts";
import { withConnections } from "./sessions.ts";

/** op.cfg must be the previews' environment's config: previewConfig says so otherwise. */
function previewsOf(op: OpContext) {
  const previews = op.cfg.previews;
  if (!previews) throw new UsageError("deploy.toml has no [previews] table: add one to deploy previews");
  return previews;
}

/** The previews of this app alive on the previews' host, oldest first. */
export async function listPreviews(op: OpContext): Promise<PreviewRecord[]> {
  previewsOf(op);
  const host = previewHost(op.cfg);
  return withConnections([host], op.connect, async ([c]) => {
    const r = await c!.remote.exec(previewCommands.list());
    const records: PreviewRecord[] = [];
    for (const line of r.stdout.split("\n").filter((l) => l.trim())) {
      try {
        const rec = JSON.parse(line) as PreviewRecord;
        if (rec.of === op.cfg.app) records.push(rec);
      } catch {
        op.events({ type: "warn", line: `a preview.json on ${host.label} does not read as JSON: ${line.slice(0, 80)}` });
      }
    }
    return records.sort((a, b) => a.created.localeCompare(b.created));
  });
}

export interface PreviewDeployReport {
  preview: PreviewRecord;
  report: DeployReport;
}

/**
 * Makes or updates preview `id` from the code op.cfg was loaded from (a worktree's: the
 * caller checked it out): refused over previews.max unless it exists, then a push of the
 * preview's config (its own lock, release phase, health-gated switch), then its record.
 */
export async function deployPreview(op: OpContext, id: Omit<PreviewIdentity, "of">, commit?: string): Promise<PreviewDeployReport> {
  const previews = previewsOf(op);
  const cfg = previewConfig(op.cfg, { ...id, of: op.cfg.app });
  const live = await listPreviews(op);
  const refusal = overLimit(live, id.name, previews);
  if (refusal) throw new OperationError(`preview ${id.name} was not made: ${refusal}`);
  const preview = previewRecord(cfg, commit, new Date(), live.find((p) => p.name === id.name));
  const record = () => withConnections([cfg.hosts[0]!], op.connect, ([c]) => c!.remote.write(layout(cfg.app).preview, `${JSON.stringify(preview)}\n`, 0o644));
  let report: DeployReport;
  try {
    report = await deploy.push({ ...op, cfg });
  } catch (e) {
    // A first deploy that failed past setup leaves its folder: recorded, it is listed, counted
    // against max and destroyed at its ttl like any other (no folder yet: nothing to record).
    if (!live.some((p) => p.name === id.name)) await record().catch(() => {});
    throw e;
  }
  await record();
  op.events({ type: "info", line: `preview ${id.name} is live at ${preview.url ?? "(no web process)"}` });
  return { preview, report };
}

/**
 * Removes preview `name` from its hosts: its add-on databases (no backup kept), then, on its
 * app host, everything else (switch destroy). Idempotent: a preview that is gone is no error.
 */
export async function destroyPreview(op: OpContext, name: string): Promise<{ name: string; app: string }> {
  previewsOf(op);
  const cfg = previewConfig(op.cfg, { name, of: op.cfg.app });
  const [appHost, ...addonHosts] = cfg.hosts;
  await withConnections(cfg.hosts, op.connect, async (connections) => {
    for (const c of connections.filter((c) => addonHosts.some((h) => h.label === c.host.label))) {
      await c.remote.exec(previewCommands.destroyAddons(cfg.app));
    }
    const main = connections.find((c) => c.host.label === appHost!.label)!;
    await main.remote.exec(previewCommands.destroy(cfg.app, op.who), { onStdout: (chunk) => op.events({ type: "host", host: main.host.label, line: String(chunk).trim() }) });
  });
  op.events({ type: "info", line: `preview ${name} (${cfg.app}) destroyed` });
  return { name, app: cfg.app };
}
