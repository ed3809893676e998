// STUB (lead's worktree): replaced by part "config"'s file at merge.
export function planWaves<T>(items: T[], rollout: { batch: number | { percent: number } | null; pauseSec: number }): T[][] {
  const n = items.length;
  if (n === 0) return [];
  if (rollout.batch === null) return n === 1 ? [items] : [items.slice(0, 1), items.slice(1)];
  const size = typeof rollout.batch === "number" ? rollout.batch : Math.max(1, Math.ceil((rollout.batch.percent / 100) * n));
  const out: T[][] = [];
  for (let i = 0; i < n; i += size) out.push(items.slice(i, i + size));
  return out;
}
