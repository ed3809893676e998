/** planRollback: back to an earlier release through the same health-gated switch. Pure. */
import type { ResolvedConfig } from "../config/types.ts";
import { OperationError } from "../errors.ts";
import type { HostFacts } from "./facts.ts";
import { switchCommands } from "../server-commands.ts";
import { rollbackTarget, withStage } from "./push.ts";
import { switchUpdate } from "./setup.ts";
import type { HostPlan, Plan } from "./steps.ts";

/**
 * Picks the target (the one named, else the previous good release of the newest live one)
 * and checks every host that switches has it, before any host is touched. Hosts already
 * live on the target are left alone (a fleet split by a --hosts push comes back together);
 * when every host is, they all restart on it.
 */
export function planRollback(cfg: ResolvedConfig, facts: HostFacts[], named: string | null, who: string): Plan {
  const target = named ?? fleetTarget(facts);
  const moving = facts.every((f) => f.live === target) ? facts : facts.filter((f) => f.live !== target);
  for (const f of moving) {
    if (!f.releases.some((r) => r.id === target)) {
      const have = f.releases.map((r) => r.id).join(", ") || "none";
      throw new OperationError(`${f.host.label}: release ${target} is not on this host (it has: ${have}); no host was switched`);
    }
  }
  const planned = moving.map(
    (f): HostPlan => ({
      host: f.host,
      arch: f.arch,
      setup: switchUpdate(cfg.app, f),
      upload: [],
      release: [],
      stage: [],
      // No release phase: a rollback runs a release that already ran its own.
      activate: [{ kind: "run", argv: switchCommands(cfg.app).activate(target, who), why: `roll back to ${target}` }],
      notes: f.live === target ? [`${target} is already live; it is restarted`] : [`${f.live ?? "nothing"} -> ${target}`],
    }),
  );
  return { action: "rollback", app: cfg.app, env: cfg.env, release: target, hosts: withStage(planned, cfg, target, who), releasePhase: null };
}

/**
 * The release before the newest one live on any host (the last push's), by the hosts that
 * run it: after a push that reached only some hosts, rollback undoes that push.
 */
export function fleetTarget(facts: HostFacts[]): string {
  const newest = facts.map((f) => f.live).filter((id): id is string => id !== null).sort().at(-1);
  if (newest === undefined) throw new OperationError("no release is live on any host; there is nothing to roll back from");
  const on = facts.filter((f) => f.live === newest);
  const targets = new Set(on.map((f) => rollbackTarget(f.releases, f.live, f.history)?.id ?? null));
  const [only] = targets;
  if (targets.size !== 1) {
    throw new OperationError(`the hosts on ${newest} disagree on the previous release (${[...targets].join(", ")}); name one: qdeploy rollback ENV RELEASE`);
  }
  if (!only) throw new OperationError("there is no earlier release that went live to roll back to");
  return only;
}
