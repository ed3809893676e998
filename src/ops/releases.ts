/** `releases`: every host's releases merged by id, saying which hosts have and run each. */
import { factWarnings, type ReleaseRecord } from "../plan/facts.ts";
import { rollbackTarget } from "../plan/push.ts";
import type { PromotedFrom } from "../plan/release.ts";
import { gatherFacts } from "../remote/host-ops.ts";
import type { OpContext } from "./context.ts";
import { type HostFilter, selectHosts, withConnections } from "./sessions.ts";

/** One release id across the fleet (a push gives every host the same id). */
export interface FleetRelease {
  id: string;
  created: string;
  git: string | null;
  by: string;
  sha256: string;
  binaries?: Record<string, string>;
  /** Promoted: the environment and release its programs and files came from. */
  from?: PromotedFrom;
  /** The hosts that have it. */
  hosts: string[];
  /** The hosts it is live on. */
  live: string[];
  /** The hosts where it is what `rollback` goes back to. */
  previous: string[];
  /** It went live on at least one host (else every host refused it). */
  activated: boolean;
}

export interface HostReleases {
  host: string;
  live: string | null;
  previous: string | null;
  releases: (ReleaseRecord & { live: boolean })[];
}

export interface FleetReleases {
  /** Oldest first. */
  releases: FleetRelease[];
  hosts: HostReleases[];
}

/** `qdeploy releases ENV`: the releases on the hosts, merged. */
export async function releases(op: OpContext, filter: HostFilter = {}): Promise<FleetReleases> {
  const hosts = selectHosts(op.cfg, filter);
  const facts = await withConnections(hosts, op.connect, (cs) => Promise.all(cs.map((c) => gatherFacts(c.remote, c.host, op.cfg.app))));
  for (const w of facts.flatMap((f) => factWarnings(f, op.cfg.app))) op.events({ type: "warn", line: w });
  return mergeReleases(
    facts.map((f) => ({
      host: f.host.label,
      live: f.live,
      previous: rollbackTarget(f.releases, f.live, f.history)?.id ?? null,
      releases: f.releases.map((r) => ({ ...r, live: r.id === f.live })),
    })),
  );
}

/** Each host's releases merged by id (the first host's record describes it). Pure. */
export function mergeReleases(hosts: HostReleases[]): FleetReleases {
  const byId = new Map<string, FleetRelease>();
  for (const h of hosts) {
    for (const r of h.releases) {
      const m = byId.get(r.id) ?? {
        id: r.id,
        created: r.created,
        git: r.git,
        by: r.by,
        sha256: r.sha256,
        ...(r.binaries && { binaries: r.binaries }),
        ...(r.from && { from: r.from }),
        hosts: [],
        live: [],
        previous: [],
        activated: false,
      };
      m.hosts.push(h.host);
      if (r.live) m.live.push(h.host);
      if (h.previous === r.id) m.previous.push(h.host);
      m.activated ||= r.activated;
      byId.set(r.id, m);
    }
  }
  return { releases: [...byId.values()].sort((a, b) => a.id.localeCompare(b.id)), hosts };
}
