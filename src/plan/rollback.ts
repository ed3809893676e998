/** planRollback: back to an earlier release through the same health-gated switch. Pure. */
import type { ResolvedConfig } from "../config/types.ts";
import { OperationError } from "../errors.ts";
import type { HostFacts } from "./facts.ts";
import { layout } from "./layout.ts";
import { rollbackTarget } from "./push.ts";
import type { Plan } from "./steps.ts";

/** Picks the target (the one named, else the previous good release) and checks every host has it. */
export function planRollback(cfg: ResolvedConfig, facts: HostFacts[], named: string | null, who: string): Plan {
  const l = layout(cfg.app);
  const target = named ?? commonTarget(facts);
  for (const f of facts) {
    if (!f.releases.some((r) => r.id === target)) {
      const have = f.releases.map((r) => r.id).join(", ") || "none";
      throw new OperationError(`${f.host.label}: release ${target} is not on this host (it has: ${have})`);
    }
  }
  return {
    action: "rollback",
    app: cfg.app,
    env: cfg.env,
    release: target,
    hosts: facts.map((f) => ({
      host: f.host,
      arch: f.arch,
      setup: [],
      upload: [],
      release: [],
      // No release phase: a rollback runs a release that already ran its own.
      activate: [{ kind: "run", argv: [l.switchScript, "activate", target, who], why: `roll back to ${target}` }],
      notes: f.live === target ? [`${target} is already live; it is restarted`] : [`${f.live ?? "nothing"} -> ${target}`],
    })),
    releasePhase: null,
  };
}

function commonTarget(facts: HostFacts[]): string {
  const targets = new Set(facts.map((f) => rollbackTarget(f.releases, f.live, f.history)?.id ?? null));
  const [only] = targets;
  if (targets.size !== 1) {
    throw new OperationError(`the hosts disagree on the previous release (${[...targets].join(", ")}); name one: qdeploy rollback ENV RELEASE`);
  }
  if (!only) throw new OperationError("there is no earlier release that went live to roll back to");
  return only;
}
