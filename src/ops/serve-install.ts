/**
 * `serve --install`: the server as a hardened unit on the environment's first web host, its
 * key authorized on every host (the planning is src/serve/install.ts's).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError } from "../errors.ts";
import { runBatch } from "../remote/run-plan.ts";
import { resolveTarget } from "../remote/ssh.ts";
import { SERVE_HOST } from "../render/serve-unit.ts";
import {
  addFirstToken,
  authorizeServer,
  gatherServeFacts,
  knownHostsLine,
  localProject,
  makeBundle,
  planServeFinish,
  planServeInstall,
  readServerKeys,
  runServeInstall,
  serverExecutable,
  serverHost,
} from "../serve/install.ts";
import type { OpContext } from "./context.ts";
import { prepareHosts } from "./setup.ts";
import { withConnections } from "./sessions.ts";

/** What an install did, and what the user needs from it (`--json` prints all but `advice`). */
export interface ServeInstallReport {
  /** https://DOMAIN/ */
  url: string;
  /** The label of the host the server runs on. */
  host: string;
  /** The first deploy token, made on the first install only (shown once). */
  token: string | null;
  sshPublicKey: string;
  ageRecipient: string | null;
  /** What changed on the hosts (empty: nothing). */
  changes: string[];
  /** Warnings about how deploy.toml reads from the server's checkout. */
  advice: string[];
}

/** Installs (or updates) the server for the environment of deploy.toml `configFile`. */
export async function installServer(op: OpContext, configFile: string): Promise<ServeInstallReport> {
  const cfg = op.cfg;
  const domain = cfg.serve.domain;
  if (!domain) {
    throw new ConfigError([{ file: configFile, path: "serve.domain", message: 'required for `qdeploy serve --install`: the domain Caddy serves the dashboard at, e.g. [serve] domain = "deploy.example.com"' }]);
  }
  const project = await localProject(configFile, cfg.serve.remote);
  const target = serverHost(cfg);
  const tmp = mkdtempSync(path.join(os.tmpdir(), "qdeploy-serve-install-"));
  try {
    return await withConnections(cfg.hosts, op.connect, async (connections) => {
      const remote = connections.find((c) => c.host.label === target.label)!.remote;
      let facts = await gatherServeFacts(remote);
      if (!facts.caddyfile) {
        op.events({ type: "host", host: target.label, line: "Caddy is not set up by qdeploy here yet: running setup first" });
        for (const label of await prepareHosts(op, connections)) op.events({ type: "host", host: label, line: `ready for ${cfg.app}` });
        facts = await gatherServeFacts(remote);
      }
      const executable = await serverExecutable(facts.arch, path.join(path.dirname(path.resolve(configFile)), ".qdeploy", "serve"), (l) => op.events({ type: "info", line: l }));
      const input = {
        app: cfg.app,
        env: cfg.env,
        domain,
        tls: cfg.serve.tls,
        configInRepo: project.configInRepo,
        head: project.head,
        origin: project.origin,
        executable,
        bundle: facts.head === project.head ? null : await makeBundle(project.top, path.join(tmp, "head.bundle")),
      };
      const plan = planServeInstall(input, facts);
      for (const w of plan.warnings) op.events({ type: "warn", line: `${target.label}: ${w}` });
      await runServeInstall(remote, plan, facts, op.events);
      const keys = await readServerKeys(remote);

      // The server logs in to every host of the environment as its deploy user, with its own key.
      const known: string[] = [];
      for (const { host, remote: r } of connections) {
        const t = resolveTarget(host, cfg.ssh);
        const a = await authorizeServer(r, t.user, keys.sshPub);
        if (a.added) plan.changes.push(`${host.label}: authorized the server's key for ${t.user}`);
        if (a.hostKey) known.push(knownHostsLine(t.host, t.port, a.hostKey));
      }
      const changedBefore = plan.uploads.length > 0 || plan.apply.length > 0;
      const finish = planServeFinish(input, facts, known, changedBefore);
      await runBatch(remote, finish.steps, op.events);
      const token = facts.tokens ? null : await addFirstToken(remote, project.configInRepo);
      const advice =
        cfg.ssh.identity || cfg.ssh.knownHosts !== "~/.ssh/known_hosts"
          ? [`deploy.toml's ssh.identity/ssh.known_hosts name files the server reads in its checkout (${SERVE_HOST.repo}); for pushes from it leave them unset (it uses ${SERVE_HOST.home}/.ssh)`]
          : [];
      return { url: `https://${domain}/`, host: target.label, token, sshPublicKey: keys.sshPub, ageRecipient: keys.ageRecipient || null, changes: [...plan.changes, ...finish.changes], advice };
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
