/**
 * A fleet's hosts each run part of the environment: the processes of their roles, the
 * one-host duties on one host only, and the restart timer staggered so no two hosts restart
 * together. Pure: (config, host) -> data; the config is never changed.
 */
import type { HostAddress, ResolvedConfig } from "../config/types.ts";

/** Least spacing between two hosts' restart windows: a zero-downtime restart takes seconds, not a minute. */
export const MIN_RESTART_SPACING_SEC = 60;

/** The processes this host runs, in the config's order (all of cfg.processes without roles). */
export function hostProcesses(cfg: ResolvedConfig, host: HostAddress): string[] {
  hostIndex(cfg, host);
  const roles = cfg.roles;
  const names = Object.keys(cfg.processes);
  return roles === null ? names : names.filter((proc) => roles[proc]?.includes(host.label) ?? false);
}

/**
 * The host that runs one-host duties (jobs with hosts = "one", the release phase): the first
 * host of the "worker" role, else cfg.hosts[0].
 */
export function dutyHost(cfg: ResolvedConfig): HostAddress {
  const worker = cfg.roles?.worker?.[0];
  const host = (worker !== undefined && cfg.hosts.find((h) => h.label === worker)) || cfg.hosts[0];
  if (!host) throw new Error(`${cfg.app} (${cfg.env}): no hosts`);
  return host;
}

/**
 * The config as one host runs it: processes and scale limited to its roles (web null when it
 * does not run web), jobs limited to the all-hosts ones plus, on the duty host, the one-host
 * ones, and restart with this host's stagger (restartStagger). With one host it equals cfg.
 * Give it the environment's config, not a host's: the stagger divides the jitter again.
 * cfg.hosts and cfg.roles stay the environment's; the release phase stays in (dutyHost says where).
 */
export function hostConfig(cfg: ResolvedConfig, host: HostAddress): ResolvedConfig {
  const index = hostIndex(cfg, host);
  const runs = new Set(hostProcesses(cfg, host));
  const only = <V>(table: Record<string, V>) => Object.fromEntries(Object.entries(table).filter(([proc]) => runs.has(proc)));
  const duty = dutyHost(cfg).label === host.label;
  return {
    ...cfg,
    processes: only(cfg.processes),
    scale: only(cfg.scale),
    web: runs.has("web") ? cfg.web : null,
    jobs: cfg.jobs.filter((job) => job.allHosts || duty),
    restart: cfg.restart && { ...cfg.restart, ...restartStagger(cfg.restart.jitterSec, cfg.hosts.length, index) },
  };
}

/**
 * Host i of n's restart window, so hosts never restart together: one host keeps its jitter
 * (offset 0); with n > 1 each gets a spacing s = max(jitter / n, 60 s), starts at i * s and
 * draws its random delay from s / 2, so the windows [i*s, i*s + s/2) never overlap and a
 * restart has at least s / 2 to finish before the next host's begins.
 */
export function restartStagger(jitterSec: number, n: number, i: number): { jitterSec: number; offsetSec?: number } {
  if (n <= 1) return { jitterSec };
  const spacing = Math.max(jitterSec / n, MIN_RESTART_SPACING_SEC);
  return { offsetSec: i * spacing, jitterSec: spacing / 2 };
}

/** The host's place in cfg.hosts (by label); a host of another environment is a bug. */
function hostIndex(cfg: ResolvedConfig, host: HostAddress): number {
  const i = cfg.hosts.findIndex((h) => h.label === host.label);
  if (i < 0) throw new Error(`${host.label} is not a host of ${cfg.app} (${cfg.env})`);
  return i;
}
