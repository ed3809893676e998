/** `status`: what each host runs now, and whether the fleet agrees (drift). */
import { switchCommands } from "../server-commands.ts";
import { hostProcesses } from "../plan/fleet.ts";
import { type LastRun, parseStatus, type Standby, type UnitUsage } from "../remote/switch-status.ts";
import { parseUsageSamples, type ProcessSeries, processSeries } from "../remote/usage-history.ts";
import { type AddonStatus, addonStatuses } from "./addons.ts";
import type { OpContext } from "./context.ts";
import { type HostFilter, selectHosts, withConnections } from "./sessions.ts";

/** One host's `switch status`, as data. */
export interface HostStatus {
  host: string;
  /** The processes this host runs (its roles). */
  roles: string[];
  live: string | null;
  slot: string | null;
  /** "ok" or "failing" with a web process; null without one (or before any release). */
  health: string | null;
  /** usage: a running service's memory and CPU against its limits, and its restarts; lastRun: how a stopped one last ended. */
  units: { unit: string; active: string; sub: string; usage?: UnitUsage; lastRun?: LastRun }[];
  timers: { timer: string; next: string }[];
  /** The previous release's web slot kept running for a rollback (web.standby); null: none. */
  standby: Standby | null;
  /** web.watchdog's restarts of a hung web slot, and the last one's time; null: none. */
  watchdog: { restarts: number; last: string } | null;
  /** With `usage`: each process's memory and CPU, minute by minute, over the last hour. */
  usage?: ProcessSeries[];
}

export interface FleetStatus {
  hosts: HostStatus[];
  /**
   * Hosts on different live releases (a push with --hosts, a rollout that stopped with
   * --no-revert): each live release (or "none") and its hosts. null when they all agree.
   */
  drift: Record<string, string[]> | null;
  /** Each add-on on the hosts asked (src/ops/addons.ts addonStatuses); [] without add-ons. */
  addons: AddonStatus[];
}

/**
 * `qdeploy status ENV`: per host the live release, units, health and timers, and the drift;
 * with `o.usage`, also the last hour's memory and CPU per process (the dashboard's charts).
 */
export async function status(op: OpContext, filter: HostFilter = {}, o: { usage?: boolean } = {}): Promise<FleetStatus> {
  const hosts = selectHosts(op.cfg, filter);
  const switchStatus = switchCommands(op.cfg.app).statusIfInstalled();
  const usageLog = switchCommands(op.cfg.app).usage();
  // A database server of its own is asked about its add-ons only.
  const [reports, addons] = await withConnections([...hosts, ...op.cfg.addonOnlyHosts], op.connect, (connections) =>
    Promise.all([
      Promise.all(
        connections.slice(0, hosts.length).map(async ({ host, remote }) => {
          const [out, usage] = await Promise.all([remote.exec(switchStatus), o.usage ? remote.exec(usageLog) : null]);
          return {
            host: host.label,
            roles: hostProcesses(op.cfg, host),
            ...parseStatus(out.stdout),
            ...(usage && { usage: processSeries(parseUsageSamples(usage.stdout), op.cfg.app) }),
          };
        }),
      ),
      addonStatuses(op, connections),
    ]),
  );
  return { hosts: reports, drift: findDrift(reports), addons };
}

/** The live releases and their hosts, when there is more than one; null when every host agrees. */
export function findDrift(hosts: { host: string; live: string | null }[]): Record<string, string[]> | null {
  const by: Record<string, string[]> = {};
  for (const h of hosts) (by[h.live ?? "none"] ??= []).push(h.host);
  return Object.keys(by).length > 1 ? by : null;
}
