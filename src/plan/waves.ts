/** The waves of a rolling push: which hosts switch together, in order. Pure. */
import type { ResolvedConfig } from "../config/types.ts";

/**
 * Waves of a rollout over these items (hosts in order). Default (batch null): the first one
 * alone (a canary), then all the rest. batch N: chunks of N. { percent p }: chunks of
 * max(1, ceil(p% of n)), so "25%" of 7 hosts is waves of 2. No items: no waves.
 */
export function planWaves<T>(items: T[], rollout: ResolvedConfig["rollout"]): T[][] {
  if (items.length === 0) return [];
  const size = waveSize(items.length, rollout.batch);
  if (size === null) return items.length === 1 ? [[...items]] : [items.slice(0, 1), items.slice(1)];
  const waves: T[][] = [];
  for (let i = 0; i < items.length; i += size) waves.push(items.slice(i, i + size));
  return waves;
}

/**
 * How many hosts a push, rollback or restart works on at once (rollout.concurrency): SSH
 * handshakes, lock-and-facts round trips, uploads and release writes. Every host keeps its
 * connection (and its deploy lock) for the whole push; the cap is on the work in flight, so
 * the deploying machine never does a thousand handshakes or uploads at the same moment.
 */
export const DEFAULT_CONCURRENCY = 32;

/** rollout.concurrency, or the default. */
export function hostConcurrency(rollout: ResolvedConfig["rollout"]): number {
  return rollout.concurrency ?? DEFAULT_CONCURRENCY;
}

/** Hosts per wave for n hosts; null: canary, then the rest. */
function waveSize(n: number, batch: ResolvedConfig["rollout"]["batch"]): number | null {
  if (batch === null) return null;
  // p and n are integers, so p * n / 100 is exact enough for ceil (30% of 10 is 3, not 3.0000001).
  const size = typeof batch === "number" ? batch : Math.ceil((batch.percent * n) / 100);
  if (!Number.isInteger(size) || size < 1) throw new Error(`rollout.batch: ${JSON.stringify(batch)} gives no hosts per wave`);
  return size;
}
