/**
 * GET /metrics: Prometheus's text format (version 0.0.4) for a scraper holding a read token.
 * Two sources: the runs this server finished since it started (DeployMetrics: counters and
 * a duration histogram, never decreasing while it runs), and each environment's `status`
 * (live release, health, units, memory, restarts, the watchdog, the standby, add-on
 * backups), read from the hosts at most once per STATUS_TTL_MS (./metrics-route.ts).
 * renderMetrics is pure.
 */
import type { FleetStatus } from "../ops/status.ts";

/** What a finished run tells the counters (./runs.ts RunRecord has it; not imported: runs.ts counts with this). */
export interface FinishedRun {
  env: string;
  action: string;
  state: "running" | "succeeded" | "failed";
  started: string;
  finished: string | null;
}

/** The deploy duration histogram's upper bounds, seconds. */
export const DURATION_BUCKETS = [5, 10, 30, 60, 120, 300, 600];

/** How long one environment's status is reused between scrapes (each reads every host over SSH). */
export const STATUS_TTL_MS = 10_000;

interface Series {
  env: string;
  action: string;
  outcome: string;
  count: number;
  sum: number;
  /** Per DURATION_BUCKETS bound: runs that took at most that long. */
  buckets: number[];
}

/** The finished runs' counters, by environment, action and outcome. */
export class DeployMetrics {
  private readonly series = new Map<string, Series>();

  /** Counts a finished run (RunRecord.finished set). */
  record(r: FinishedRun): void {
    if (r.state === "running" || !r.finished) return;
    const key = `${r.env}\0${r.action}\0${r.state}`;
    const s = this.series.get(key) ?? { env: r.env, action: r.action, outcome: r.state, count: 0, sum: 0, buckets: DURATION_BUCKETS.map(() => 0) };
    const seconds = Math.max(0, (Date.parse(r.finished) - Date.parse(r.started)) / 1000);
    s.count++;
    s.sum += seconds;
    DURATION_BUCKETS.forEach((b, i) => {
      if (seconds <= b) s.buckets[i]!++;
    });
    this.series.set(key, s);
  }

  all(): Series[] {
    return [...this.series.values()].sort((a, b) => `${a.env} ${a.action} ${a.outcome}`.localeCompare(`${b.env} ${b.action} ${b.outcome}`));
  }
}

/** One environment's status for the scrape, or why it could not be read. */
export type EnvStatus = { env: string; status: FleetStatus } | { env: string; error: string };

/** A label value as the text format writes it: backslash, double quote and newline escaped. */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** The exposition text. Pure. */
export function renderMetrics(deploys: Series[], envs: EnvStatus[]): string {
  const out: string[] = [];
  const family = (name: string, type: "counter" | "gauge" | "histogram", help: string, samples: string[]) => {
    if (!samples.length) return;
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
  };
  const labels = (l: Record<string, string>) => `{${Object.entries(l).map(([k, v]) => `${k}="${label(v)}"`).join(",")}}`;
  const num = (n: number) => (Number.isFinite(n) ? String(n) : "NaN");

  family("qdeploy_deploys_total", "counter", "Pushes, rollbacks, promotions and restarts this server ran, by outcome, since it started.", deploys.map((s) => `qdeploy_deploys_total${labels({ env: s.env, action: s.action, outcome: s.outcome })} ${s.count}`));
  family(
    "qdeploy_deploy_duration_seconds",
    "histogram",
    "How long the runs of this server took.",
    deploys.flatMap((s) => {
      const l = { env: s.env, action: s.action, outcome: s.outcome };
      return [
        ...DURATION_BUCKETS.map((b, i) => `qdeploy_deploy_duration_seconds_bucket${labels({ ...l, le: String(b) })} ${s.buckets[i]}`),
        `qdeploy_deploy_duration_seconds_bucket${labels({ ...l, le: "+Inf" })} ${s.count}`,
        `qdeploy_deploy_duration_seconds_sum${labels(l)} ${num(s.sum)}`,
        `qdeploy_deploy_duration_seconds_count${labels(l)} ${s.count}`,
      ];
    }),
  );
  family("qdeploy_status_up", "gauge", "1 when the environment's hosts answered `status` for this scrape, else 0.", envs.map((e) => `qdeploy_status_up${labels({ env: e.env })} ${"status" in e ? 1 : 0}`));

  const hosts = envs.flatMap((e) => ("status" in e ? e.status.hosts.map((h) => ({ env: e.env, h })) : []));
  family("qdeploy_live_release_info", "gauge", "The release live on each host (value 1).", hosts.flatMap(({ env, h }) => (h.live ? [`qdeploy_live_release_info${labels({ env, host: h.host, release: h.live })} 1`] : [])));
  family("qdeploy_web_healthy", "gauge", "1 when the live web slot answers its health path, 0 when it does not.", hosts.flatMap(({ env, h }) => (h.health === null ? [] : [`qdeploy_web_healthy${labels({ env, host: h.host })} ${h.health === "ok" ? 1 : 0}`])));
  const units = hosts.flatMap(({ env, h }) => h.units.map((u) => ({ l: { env, host: h.host, unit: u.unit }, u })));
  family("qdeploy_unit_active", "gauge", "1 when systemd says the unit is active.", units.map(({ l, u }) => `qdeploy_unit_active${labels(l)} ${u.active === "active" ? 1 : 0}`));
  const used = units.flatMap(({ l, u }) => (u.usage ? [{ l, usage: u.usage }] : []));
  family("qdeploy_unit_memory_bytes", "gauge", "A running service's memory (its cgroup's).", used.flatMap(({ l, usage }) => (usage.memoryBytes === null ? [] : [`qdeploy_unit_memory_bytes${labels(l)} ${usage.memoryBytes}`])));
  family("qdeploy_unit_memory_limit_bytes", "gauge", "Its [resources] memory limit (MemoryMax), where it has one.", used.flatMap(({ l, usage }) => (usage.memoryMaxBytes === null ? [] : [`qdeploy_unit_memory_limit_bytes${labels(l)} ${usage.memoryMaxBytes}`])));
  family("qdeploy_unit_cpu_seconds_total", "counter", "A running service's CPU time since it started.", used.flatMap(({ l, usage }) => (usage.cpuSeconds === null ? [] : [`qdeploy_unit_cpu_seconds_total${labels(l)} ${num(usage.cpuSeconds)}`])));
  family("qdeploy_unit_restarts_total", "counter", "How often systemd restarted a running service (a crash, a kill over its memory) since it was started.", used.flatMap(({ l, usage }) => (usage.restarts === null ? [] : [`qdeploy_unit_restarts_total${labels(l)} ${usage.restarts}`])));
  family("qdeploy_watchdog_restarts_total", "counter", "web.watchdog's restarts of a hung web slot.", hosts.flatMap(({ env, h }) => (h.watchdog ? [`qdeploy_watchdog_restarts_total${labels({ env, host: h.host })} ${h.watchdog.restarts}`] : [])));
  family("qdeploy_standby_until_timestamp_seconds", "gauge", "When the warm standby (web.standby) ends, by the release it runs.", hosts.flatMap(({ env, h }) => (h.standby ? [`qdeploy_standby_until_timestamp_seconds${labels({ env, host: h.host, release: h.standby.release })} ${Date.parse(h.standby.until) / 1000}`] : [])));
  const addons = envs.flatMap((e) => ("status" in e ? e.status.addons.map((a) => ({ env: e.env, a })) : []));
  family("qdeploy_addon_last_backup_timestamp_seconds", "gauge", "When an add-on's newest backup was made.", addons.flatMap(({ env, a }) => (a.lastBackup ? [`qdeploy_addon_last_backup_timestamp_seconds${labels({ env, addon: a.addon, host: a.host })} ${Date.parse(a.lastBackup.at) / 1000}`] : [])));
  return `${out.join("\n")}\n`;
}

