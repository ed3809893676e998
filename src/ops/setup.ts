/** `setup`: each host prepared for the app (Caddy, folders, firewall), idempotent; first its deploy user with --bootstrap. */
import { hostConfig } from "../plan/fleet.ts";
import { planSetup } from "../plan/setup.ts";
import { gatherFacts } from "../remote/host-ops.ts";
import { runBatch } from "../remote/run-plan.ts";
import { type BootstrapOptions, type BootstrappedHost, bootstrap } from "./bootstrap.ts";
import type { OpContext } from "./context.ts";
import { type Connection, requireSystemd, withConnections } from "./sessions.ts";

export interface SetupReport {
  /** What --bootstrap did on each host; null without it. */
  bootstrapped: BootstrappedHost[] | null;
  /** The labels of the hosts now ready, in deploy.toml's order. */
  ready: string[];
}

/** `qdeploy setup ENV [--bootstrap]` on every host of the environment. */
export async function setup(op: OpContext, opts: { bootstrap?: BootstrapOptions } = {}): Promise<SetupReport> {
  const bootstrapped = opts.bootstrap ? await bootstrap(op, opts.bootstrap) : null;
  const ready = await withConnections(op.cfg.hosts, op.connect, (connections) => prepareHosts(op, connections));
  return { bootstrapped, ready };
}

/** Runs setup's steps (forced: the cheap ones again too) on these open connections; their labels. */
export function prepareHosts(op: OpContext, connections: Connection[]): Promise<string[]> {
  return Promise.all(
    connections.map(async ({ host, remote }) => {
      const facts = await gatherFacts(remote, host, op.cfg.app);
      requireSystemd(facts, op.cfg.env);
      await runBatch(remote, planSetup(hostConfig(op.cfg, host), facts, true), op.events);
      return host.label;
    }),
  );
}
