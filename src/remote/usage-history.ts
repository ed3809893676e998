/**
 * The last hour of a host's memory and CPU samples (`switch sample` every minute, read back
 * from usage.log) as a series per process: what the dashboard draws. Pure.
 */

/** One service at one minute: `EPOCH UNIT MEMORY CPU_NSEC` ("-": systemd did not say). */
export interface UsageSample {
  at: number;
  unit: string;
  memoryBytes: number | null;
  cpuNsec: number | null;
}

/** A process's instances summed, minute by minute. */
export interface ProcessSeries {
  process: string;
  /** Oldest first. cpuPercent: of one CPU since the sample before (null at the first, or when systemd did not say). */
  points: { at: number; memoryBytes: number | null; cpuPercent: number | null }[];
}

/** usage.log's lines; a line that is not a sample is skipped (a write the next sample completes). */
export function parseUsageSamples(text: string): UsageSample[] {
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);
  const out: UsageSample[] = [];
  for (const line of text.split("\n")) {
    const [at, unit, memory, cpu, ...rest] = line.trim().split(/\s+/);
    if (rest.length || !unit || num(at) === null || memory === undefined || cpu === undefined) continue;
    out.push({ at: num(at)!, unit, memoryBytes: num(memory), cpuNsec: num(cpu) });
  }
  return out;
}

/**
 * The samples of `app`'s process units (`APP-PROC@INSTANCE.service`: both web slots are web)
 * as one series per process, in process order. A unit's CPU is the time it used since its
 * sample a minute before; a unit new since then (a restart, a switch) counts from its start.
 */
export function processSeries(samples: UsageSample[], app: string): ProcessSeries[] {
  const pattern = new RegExp(`^${app.replace(/[-]/g, "\\-")}-([a-z0-9_-]+)@[^.]+\\.service$`);
  const times = [...new Set(samples.map((s) => s.at))].sort((a, b) => a - b);
  const byProcess = new Map<string, Map<number, { memoryBytes: number | null; cpuNsec: number | null; gapSec: number | null }>>();
  const last = new Map<string, UsageSample>();
  for (const s of [...samples].sort((a, b) => a.at - b.at)) {
    const proc = pattern.exec(s.unit)?.[1];
    if (!proc) continue;
    const prev = last.get(s.unit);
    last.set(s.unit, s);
    const i = times.indexOf(s.at);
    const before = i > 0 ? times[i - 1]! : null;
    // Used since the sample before: the difference; a unit not sampled then started since.
    const used = s.cpuNsec === null ? null : prev?.at === before && prev.cpuNsec !== null ? Math.max(0, s.cpuNsec - prev.cpuNsec) : s.cpuNsec;
    const points = byProcess.get(proc) ?? new Map();
    const p = points.get(s.at) ?? { memoryBytes: null, cpuNsec: null, gapSec: before === null ? null : s.at - before };
    if (s.memoryBytes !== null) p.memoryBytes = (p.memoryBytes ?? 0) + s.memoryBytes;
    if (used !== null) p.cpuNsec = (p.cpuNsec ?? 0) + used;
    points.set(s.at, p);
    byProcess.set(proc, points);
  }
  return [...byProcess.entries()]
    .sort(([a], [b]) => (a === "web" ? -1 : b === "web" ? 1 : a.localeCompare(b)))
    .map(([process, points]) => ({
      process,
      points: [...points.entries()].map(([at, p]) => ({
        at,
        memoryBytes: p.memoryBytes,
        cpuPercent: p.gapSec && p.cpuNsec !== null ? Math.round((p.cpuNsec / (p.gapSec * 1e9)) * 1000) / 10 : null,
      })),
    }));
}
