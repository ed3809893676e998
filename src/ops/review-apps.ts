/**
 * Review apps: deploy, list and destroy the previews of `[previews]` (src/plan/review-app.ts
 * says what one is). The hosts are the record: each preview's folder holds its preview.json,
 * so the CLI and `qdeploy serve` see the same previews.
 */
import type { PreviewIdentity, ResolvedConfig } from "../config/types.ts";
import { addonArgv } from "../plan/addons.ts";
import { OperationError, UsageError } from "../errors.ts";
import { firstDeploy, overLimit, previewConfig, previewHost, previewRecord, type PreviewRecord } from "../plan/review-app.ts";
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
  const live = await listPreviews(op);
  const refusal = overLimit(live, id.name, previews);
  if (refusal) throw new OperationError(`preview ${id.name} was not made: ${refusal}`);
  const before = live.find((p) => p.name === id.name);
  const first = firstDeploy(before);
  const cfg = previewConfig(op.cfg, { ...id, of: op.cfg.app }, first);
  const preview = previewRecord(cfg, commit, new Date(), before);
  const record = (r: PreviewRecord) => withConnections([cfg.hosts[0]!], op.connect, ([c]) => c!.remote.write(layout(cfg.app).preview, `${JSON.stringify(r)}\n`, 0o644));
  let report: DeployReport;
  try {
    // Seeded before the release phase, so it migrates (and scrubs) the copy.
    report = await deploy.push({ ...op, cfg }, first && previews.seed ? { beforeRelease: () => seedAddons(op, cfg) } : {});
  } catch (e) {
    // A first deploy that failed past setup leaves its folder: recorded, it is listed, counted
    // against max and destroyed at its ttl like any other (no folder yet: nothing to record),
    // and the next deploy is a first one again (seeded and scrubbed anew).
    if (first) await record({ ...preview, failed: true }).catch(() => {});
    throw e;
  }
  await record(preview);
  op.events({ type: "info", line: `preview ${id.name} is live at ${preview.url ?? "(no web process)"}` });
  return { preview, report };
}

/** previews.seed: each Postgres add-on of the preview filled from the environment's app's newest backup of it, on its host. */
async function seedAddons(op: OpContext, cfg: ResolvedConfig): Promise<void> {
  const addons = cfg.addons.filter((a) => a.service === "postgres");
  const hosts = cfg.hosts.filter((h) => addons.some((a) => a.host === h.label));
  await withConnections(hosts, op.connect, async (connections) => {
    for (const addon of addons) {
      const c = connections.find((c) => c.host.label === addon.host)!;
      const r = await c.remote.exec(addonArgv(cfg, "seed", addon, [op.cfg.app]));
      const from = /^seeded=(\S+)$/m.exec(r.stdout)?.[1] ?? "?";
      op.events({ type: "info", line: `add-on ${addon.name} of ${cfg.app} seeded from ${op.cfg.env}'s backup ${from}` });
    }
  });
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
