/**
 * Durations as systemd writes time spans (systemd.time(7)): "30s", "15m", "1h30m",
 * "1h 30min", "500ms", "1.5h"; a plain number is seconds. Units are case-sensitive,
 * as in systemd: "m" is minutes, "M" is months.
 */

const UNIT_SECONDS: Record<string, number> = {
  us: 1e-6, usec: 1e-6, µs: 1e-6,
  ms: 1e-3, msec: 1e-3,
  s: 1, sec: 1, second: 1, seconds: 1,
  m: 60, min: 60, minute: 60, minutes: 60,
  h: 3600, hr: 3600, hour: 3600, hours: 3600,
  d: 86400, day: 86400, days: 86400,
  w: 604800, week: 604800, weeks: 604800,
  M: 2629800, month: 2629800, months: 2629800,
  y: 31557600, year: 31557600, years: 31557600,
};

/** Parses a systemd-style time span into seconds; throws an Error saying what is wrong. */
export function parseDuration(s: string): number {
  const text = s.trim();
  if (text === "") throw new Error(`empty duration; write e.g. "30s", "15m" or "1h30m"`);
  if (/^\d+(\.\d+)?$/.test(text)) return finite(Number(text));
  let total = 0;
  let rest = text;
  while (rest !== "") {
    const m = /^(\d+(?:\.\d+)?)\s*([A-Za-zµ]+)\s*/.exec(rest);
    if (!m) {
      throw new Error(`bad duration "${s}"; write e.g. "30s", "15m", "1h30m" or "500ms" (a plain number is seconds)`);
    }
    const unit = UNIT_SECONDS[m[2]!];
    if (unit === undefined) {
      throw new Error(`bad duration "${s}": unknown unit "${m[2]}"; use ms, s, m, h, d or w`);
    }
    total += Number(m[1]) * unit;
    rest = rest.slice(m[0].length);
  }
  // Keep sums like 1.1s + 100ms exact to the microsecond.
  return finite(Math.round(total * 1e6) / 1e6);
}

/** Seconds a unit file can say: so many digits that they overflow are what systemdSpan refuses. */
function finite(sec: number): number {
  if (!Number.isFinite(sec)) throw new Error(`${sec} is not a number of seconds`);
  return sec;
}

/**
 * Seconds as a systemd time span for a unit file: whole seconds as "30s", anything finer
 * rounded up to the millisecond ("1500ms"), never exponent notation like String(1e-7).
 */
export function systemdSpan(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) throw new Error(`${sec} is not a number of seconds`);
  if (Number.isInteger(sec)) return `${sec}s`;
  // toFixed drops float noise (1.1 * 1000 = 1100.0000000000002) before rounding up.
  return `${Math.max(1, Math.ceil(Number((sec * 1000).toFixed(6))))}ms`;
}

/**
 * Seconds as the switch script can count them: bash has integer arithmetic only
 * (`SECONDS + 1.5` is a syntax error), so a fraction rounds up, and at least 1.
 */
export function wholeSeconds(sec: number): number {
  if (!Number.isFinite(sec) || sec < 0) throw new Error(`${sec} is not a number of seconds`);
  return Math.max(1, Math.ceil(Number(sec.toFixed(6))));
}
