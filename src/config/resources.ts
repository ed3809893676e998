/**
 * `[resources.PROC]`: per-process limits, as Heroku's dyno sizes and Kamal's role options
 * give them, enforced by systemd's cgroup settings on every instance of the process. Pure:
 * the config's values -> the resolved limits, which src/render/units.ts writes as unit lines.
 */

/** A process's limits; null: none of that kind (systemd's default, no limit). */
export interface ResolvedResources {
  /** The dyno size named (`size`), for the unit's comment; null when none was. */
  size: string | null;
  /** MemoryMax: over it the kernel kills the process (and systemd restarts it); GOMEMLIMIT at 90 %. */
  memoryBytes: number | null;
  /** CPUs it may use at most (CPUQuota; 0.5 is half of one). */
  cpu: number | null;
  /** Its share of the CPU against the host's other processes when they compete (CPUWeight; systemd's default 100). */
  cpuWeight: number | null;
  /** Processes and threads at most (TasksMax). */
  tasks: number | null;
  /** Open files at most (LimitNOFILE). */
  nofile: number | null;
}

/** The table as written in deploy.toml. */
export interface RawResources {
  size?: string;
  memory?: string;
  cpu?: number;
  tasks?: number;
  nofile?: number;
}

/**
 * Heroku's dyno sizes (devcenter.heroku.com/articles/dyno-types): their memory, and their
 * CPU share as a weight (standard-2x twice a standard-1x; performance dynos, dedicated on
 * Heroku, ten times: on a shared host they get the CPU first).
 */
export const DYNO_SIZES: Record<string, { memory: string; cpuWeight: number }> = {
  eco: { memory: "512M", cpuWeight: 100 },
  basic: { memory: "512M", cpuWeight: 100 },
  "standard-1x": { memory: "512M", cpuWeight: 100 },
  "standard-2x": { memory: "1G", cpuWeight: 200 },
  "performance-m": { memory: "2.5G", cpuWeight: 1000 },
  "performance-l": { memory: "14G", cpuWeight: 1000 },
  "performance-l-ram": { memory: "30G", cpuWeight: 1000 },
  "performance-xl": { memory: "62G", cpuWeight: 1000 },
  "performance-2xl": { memory: "126G", cpuWeight: 1000 },
};

/** Below this a Go program does not start: a limit this low is a typo (64 for 64M). */
export const MIN_MEMORY_BYTES = 16 * 1024 * 1024;

const UNITS: Record<string, number> = { K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** "512M", "1.5G", "1024K" (systemd's base-1024 units; a trailing B or iB is allowed) -> bytes. */
export function parseMemory(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT])(?:i?B)?\s*$/i.exec(text);
  if (!m) throw new Error(`"${text}" is not an amount of memory: a number and K, M, G or T, e.g. "512M" or "1.5G"`);
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
  if (bytes < MIN_MEMORY_BYTES) throw new Error(`"${text}" is less than 16M: a Go program does not start in that`);
  return bytes;
}

/** A value of [resources.PROC] that is not one: `key` is the key it is in. */
export class ResourceProblem extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

/** One process's limits: its size's, then the keys given, which win. Throws a ResourceProblem. */
export function resolveResources(raw: RawResources): ResolvedResources {
  const preset = raw.size === undefined ? null : DYNO_SIZES[raw.size];
  if (raw.size !== undefined && !preset) throw new ResourceProblem("size", `"${raw.size}" is not a dyno size; sizes: ${Object.keys(DYNO_SIZES).join(", ")}`);
  const memory = raw.memory ?? preset?.memory;
  let memoryBytes: number | null = null;
  try {
    memoryBytes = memory === undefined ? null : parseMemory(memory);
  } catch (e) {
    throw new ResourceProblem("memory", (e as Error).message);
  }
  return {
    size: raw.size ?? null,
    memoryBytes,
    cpu: raw.cpu ?? null,
    cpuWeight: preset && preset.cpuWeight !== 100 ? preset.cpuWeight : null,
    tasks: raw.tasks ?? null,
    nofile: raw.nofile ?? null,
  };
}
