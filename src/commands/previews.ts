/** `qdeploy previews list|deploy|destroy`: review apps from the command line (src/ops/review-apps.ts). */
import path from "node:path";
import { loadWithPackages } from "../config/check-packages.ts";
import { loadConfig, requireEnvironment } from "../config/load.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { UsageError } from "../errors.ts";
import { deployPreview, destroyPreview, listPreviews, type PreviewDeployReport } from "../ops/review-apps.ts";
import { branchPreview, expiresAt, prPreview, type PreviewRecord } from "../plan/review-app.ts";
import { withServedPlaces } from "../serve/actions.ts";
import { previewName } from "../serve/review-apps.ts";
import { checkoutCommit } from "../serve/checkout.ts";
import { type Ctx, loadEnvironment, opContext } from "./context.ts";

/** The previews' environment's config, from deploy.toml's [previews]. */
async function previewsBase(ctx: Ctx): Promise<ResolvedConfig> {
  const { raw } = await loadConfig(ctx.configFile);
  const previews = raw.previews;
  if (!previews) throw new UsageError(`${ctx.configFile} has no [previews] table: add one (environment, domain) to deploy previews`);
  return loadEnvironment(ctx, previews.environment);
}

/** `previews list`: each preview of this app, its URL, commit, age and when it expires. */
export async function list(ctx: Ctx): Promise<PreviewRecord[]> {
  const base = await previewsBase(ctx);
  const records = await listPreviews(opContext(ctx, base));
  const now = Date.now();
  for (const r of records) {
    const age = Math.round((now - Date.parse(r.created)) / 3_600_000);
    const left = Math.round((expiresAt(r, base.previews!).getTime() - now) / 3_600_000);
    const state = r.failed ? "  its first deploy failed" : "";
    ctx.out.result(`${r.name}  ${r.url ?? "(no web)"}  ${r.commit?.slice(0, 12) ?? "-"}  ${r.branch ?? ""}  ${age} h old, expires in ${left} h${state}`.replace(/ {3,}/g, "  "));
  }
  if (!records.length) ctx.out.result("no previews");
  return records;
}

/**
 * `previews deploy BRANCH [--pr N]`: BRANCH's commit (this repository's, fetched into a clean
 * worktree, so what is not committed stays out) as preview pr-N, else br-BRANCH.
 */
export async function deploy(ctx: Ctx, branch: string, pr: number | undefined): Promise<PreviewDeployReport> {
  const served = await previewsBase(ctx);
  const op = opContext(ctx, served);
  const checkout = await checkoutCommit({ configFile: path.resolve(ctx.configFile), remote: ".", ref: branch, events: op.events });
  try {
    const commit = requireEnvironment(checkout.configFile, await loadWithPackages(checkout.configFile, served.env, { build: true }));
    // The hosts, SSH, secrets and [previews] are this folder's; the app's code and config the branch's.
    const cfg = { ...withServedPlaces(commit, served), previews: served.previews };
    const name = pr === undefined ? branchPreview(branch) : prPreview(pr);
    return await deployPreview({ ...op, cfg }, { name, ...(pr !== undefined && { pr }), branch }, checkout.commit);
  } finally {
    await checkout.remove();
  }
}

/** `previews destroy NAME` (pr-7, or 7). */
export async function destroy(ctx: Ctx, name: string): Promise<{ name: string; app: string }> {
  return destroyPreview(opContext(ctx, await previewsBase(ctx)), previewName(name));
}
