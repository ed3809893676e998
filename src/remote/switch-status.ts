/**
 * What a host's switch script says to `switch status` (server/switch.sh): the live release,
 * its health, units and timers. `status` shows it; the rollout checks a wave is still healthy
 * with it (src/ops/execute.ts), so it lives below both.
 */

/** The `key=value` lines of `switch status`, as data. */
export function parseStatus(text: string) {
  const s = {
    live: null as string | null,
    slot: null as string | null,
    health: null as string | null,
    units: [] as { unit: string; active: string; sub: string }[],
    timers: [] as { timer: string; next: string }[],
  };
  for (const line of text.split("\n")) {
    const [key, ...rest] = line.split("=");
    const value = rest.join("=");
    if (key === "live" || key === "slot" || key === "health") s[key] = value || null;
    if (key === "unit") {
      const [unit, active, sub] = value.split(" ");
      s.units.push({ unit: unit!, active: active!, sub: sub! });
    }
    if (key === "timer") {
      const sp = value.indexOf(" ");
      s.timers.push({ timer: value.slice(0, sp), next: value.slice(sp + 1) });
    }
  }
  return s;
}
