/**
 * What a host's switch script says to `switch status` (server/switch.sh): the live release,
 * its health, units and timers. `status` shows it; the rollout checks a wave is still healthy
 * with it (src/ops/execute.ts), so it lives below both.
 */
import { formatMemory } from "../util/bytes.ts";

/** The warm standby (web.standby): the previous release's web slot, running out of traffic. */
export interface Standby {
  port: number;
  release: string;
  /** When its timer ends it (ISO 8601). */
  until: string;
  /** Its cgroup's memory, what the standby costs; null when systemd does not say. */
  memoryBytes: number | null;
}

/** A running service's use of memory and CPU against its limits ([resources]), and its restarts. */
export interface UnitUsage {
  memoryBytes: number | null;
  /** MemoryMax; null: no limit. */
  memoryMaxBytes: number | null;
  /** CPU time since it started. */
  cpuSeconds: number | null;
  /** CPUQuota in CPUs (1.5: one and a half); null: no limit. */
  cpuQuota: number | null;
  /** How often systemd restarted it (a crash, a kill over its memory) since it was started. */
  restarts: number | null;
}

/** How a service that is not running (a job, the restart, the watchdog) last ended. */
export interface LastRun {
  /** systemd's Result: success, exit-code, timeout, oom-kill, ... */
  result: string;
  /** When it ended (ISO 8601). */
  at: string;
  exitStatus: number;
}

/** `usage=UNIT MEMORY MEMORYMAX CPUNSEC QUOTA RESTARTS` as systemctl show gives them ("infinity"; "-": not set). */
function parseUsage(fields: string[]): UnitUsage {
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);
  const [memory, max, cpu, quota, restarts] = fields;
  // CPUQuotaPerSecUSec is a span: "1.500000s" or "500ms" of CPU per second of time.
  const q = /^(\d+(?:\.\d+)?)(s|ms)$/.exec(quota ?? "");
  return {
    memoryBytes: num(memory),
    memoryMaxBytes: num(max),
    cpuSeconds: num(cpu) === null ? null : num(cpu)! / 1e9,
    cpuQuota: q ? Number(q[1]) / (q[2] === "ms" ? 1000 : 1) : null,
    restarts: num(restarts),
  };
}

/** The `key=value` lines of `switch status`, as data. */
export function parseStatus(text: string) {
  const s = {
    live: null as string | null,
    slot: null as string | null,
    health: null as string | null,
    units: [] as { unit: string; active: string; sub: string; usage?: UnitUsage; lastRun?: LastRun }[],
    timers: [] as { timer: string; next: string }[],
    standby: null as Standby | null,
    /** web.watchdog's restarts of a hung web slot: how many, the last one's time; null: none yet (or it is off). */
    watchdog: null as { restarts: number; last: string } | null,
  };
  for (const line of text.split("\n")) {
    const [key, ...rest] = line.split("=");
    const value = rest.join("=");
    if (key === "live" || key === "slot" || key === "health") s[key] = value || null;
    if (key === "unit") {
      const [unit, active, sub] = value.split(" ");
      s.units.push({ unit: unit!, active: active!, sub: sub! });
    }
    if (key === "watchdog") {
      const [count, last] = value.split(" ");
      s.watchdog = { restarts: Number(count), last: new Date(Number(last) * 1000).toISOString() };
    }
    if (key === "lastrun") {
      const [unit, result, at, status] = value.split(" ");
      const u = s.units.find((x) => x.unit === unit);
      if (u && /^\d+$/.test(at ?? "")) u.lastRun = { result: result ?? "", at: new Date(Number(at) * 1000).toISOString(), exitStatus: Number(status ?? 0) };
    }
    if (key === "usage") {
      const [unit, ...fields] = value.split(" ");
      const u = s.units.find((x) => x.unit === unit);
      if (u) u.usage = parseUsage(fields);
    }
    if (key === "standby") {
      const [port, release, until, memory] = value.split(" ");
      s.standby = {
        port: Number(port),
        release: release ?? "",
        until: new Date(Number(until) * 1000).toISOString(),
        memoryBytes: /^\d+$/.test(memory ?? "") ? Number(memory) : null,
      };
    }
    if (key === "timer") {
      const sp = value.indexOf(" ");
      s.timers.push({ timer: value.slice(0, sp), next: value.slice(sp + 1) });
    }
  }
  return s;
}

/** `last run 2026-12-05T12:00:01Z: success` (or `failed (exit-code, status 1)`). */
export function describeLastRun(r: LastRun): string {
  return `last run ${r.at.replace(/\.000Z$/, "Z")}: ${r.result === "success" ? "success" : `failed (${r.result}${r.exitStatus ? `, status ${r.exitStatus}` : ""})`}`;
}

/**
 * A timer's service that has not run yet (a job, the restart): inactive is its normal state,
 * not a process that is down. Known by its timer among the host's units.
 */
export function notRunYet(u: { unit: string; active: string; lastRun?: LastRun }, units: { unit: string }[]): boolean {
  if (!u.unit.endsWith(".service") || u.lastRun || u.active !== "inactive") return false;
  const timer = u.unit.replace(/\.service$/, ".timer");
  return units.some((x) => x.unit === timer);
}

/** `memory 11.8M of 64M, cpu 0.4 s (at most 1.5 CPUs), 3 restarts`: what is known of a running service. */
export function describeUsage(u: UnitUsage): string {
  const parts: string[] = [];
  if (u.memoryBytes !== null) parts.push(`memory ${formatMemory(u.memoryBytes)}${u.memoryMaxBytes === null ? "" : ` of ${formatMemory(u.memoryMaxBytes)}`}`);
  if (u.cpuSeconds !== null) parts.push(`cpu ${u.cpuSeconds.toFixed(1)} s${u.cpuQuota === null ? "" : ` (at most ${u.cpuQuota} CPU${u.cpuQuota === 1 ? "" : "s"})`}`);
  if (u.restarts) parts.push(`${u.restarts} restart${u.restarts === 1 ? "" : "s"}`);
  return parts.join(", ");
}
