/**
 * What a host's switch script says to `switch status` (server/switch.sh): the live release,
 * its health, units and timers. `status` shows it; the rollout checks a wave is still healthy
 * with it (src/ops/execute.ts), so it lives below both.
 */

/** The warm standby (web.standby): the previous release's web slot, running out of traffic. */
export interface Standby {
  port: number;
  release: string;
  /** When its timer ends it (ISO 8601). */
  until: string;
  /** Its cgroup's memory, what the standby costs; null when systemd does not say. */
  memoryBytes: number | null;
}

/** The `key=value` lines of `switch status`, as data. */
export function parseStatus(text: string) {
  const s = {
    live: null as string | null,
    slot: null as string | null,
    health: null as string | null,
    units: [] as { unit: string; active: string; sub: string }[],
    timers: [] as { timer: string; next: string }[],
    standby: null as Standby | null,
  };
  for (const line of text.split("\n")) {
    const [key, ...rest] = line.split("=");
    const value = rest.join("=");
    if (key === "live" || key === "slot" || key === "health") s[key] = value || null;
    if (key === "unit") {
      const [unit, active, sub] = value.split(" ");
      s.units.push({ unit: unit!, active: active!, sub: sub! });
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
