/**
 * Review apps past previews.ttl (no deploy for that long) are destroyed, as Heroku destroys
 * stale review apps: looked for when the server starts, then every hour.
 */
import { expiresAt } from "../plan/review-app.ts";
import { livePreviews, previewRunKey, startPreviewDestroy } from "./review-apps.ts";
import type { ServeDeps } from "./deps.ts";

const SWEEP_EVERY_MS = 60 * 60 * 1000;

/** One look: starts a destroy run for each expired preview that has no run going; returns their names. */
export async function sweepPreviews(deps: ServeDeps): Promise<string[]> {
  const previews = deps.previews;
  if (!previews) return [];
  const now = deps.now();
  const expired = (await livePreviews(deps, "ttl")).filter((r) => expiresAt(r, previews) <= now && !deps.runs.running(previewRunKey(previews, r.name)));
  for (const r of expired) startPreviewDestroy(deps, r.name, "ttl");
  return expired.map((r) => r.name);
}

/** Sweeps now and every hour until the returned stop is called; a failed look is logged and tried again next hour. */
export function startPreviewSweeps(deps: ServeDeps): () => void {
  if (!deps.previews) return () => {};
  const sweep = () =>
    void sweepPreviews(deps).then(
      (names) => names.length && deps.log(`previews past their ttl, destroyed: ${names.join(", ")}`),
      (e) => deps.log(`looking for expired previews failed: ${(e as Error).message}`),
    );
  sweep();
  const timer = setInterval(sweep, SWEEP_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
