/** `qdeploy serve --install ENV`: the server as a hardened unit on the environment's first web host (src/serve/install.ts). */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError } from "../errors.ts";
import { resolveTarget } from "../remote/ssh.ts";
import { runBatch } from "../remote/run-plan.ts";
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
import { printEvents } from "../output.ts";
import { type Ctx, loadEnvironment, projectDir, withRemotes } from "./context.ts";

/** Installs (or updates) the server; prints the URL, the token (first time only), the keys and what is next. */
export async function serveInstall(ctx: Ctx, env: string): Promise<number> {
  const cfg = await loadEnvironment(ctx, env);
  const domain = cfg.serve.domain;
  if (!domain) {
    throw new ConfigError([{ file: ctx.configFile, path: "serve.domain", message: 'required for `qdeploy serve --install`: the domain Caddy serves the dashboard at, e.g. [serve] domain = "deploy.example.com"' }]);
  }
  const project = await localProject(ctx.configFile, cfg.serve.remote);
  const target = serverHost(cfg);
  const out = ctx.out;
  const events = printEvents(out);
  const tmp = mkdtempSync(path.join(os.tmpdir(), "qdeploy-serve-install-"));
  try {
    return await withRemotes(cfg, ctx, async (remotes) => {
      const remote = remotes[cfg.hosts.findIndex((h) => h.label === target.label)]!;
      let facts = await gatherServeFacts(remote);
      if (!facts.caddyfile) {
        out.host(remote.label, "Caddy is not set up by qdeploy here yet: running setup first");
        const { setup } = await import("./deploy.ts");
        await setup(ctx, env);
        facts = await gatherServeFacts(remote);
      }
      const executable = await serverExecutable(facts.arch, path.join(projectDir(ctx), ".qdeploy", "serve"), (l) => out.info(l));
      const input = {
        app: cfg.app,
        env,
        domain,
        tls: cfg.serve.tls,
        configInRepo: project.configInRepo,
        head: project.head,
        origin: project.origin,
        executable,
        bundle: facts.head === project.head ? null : await makeBundle(project.top, path.join(tmp, "head.bundle")),
      };
      const plan = planServeInstall(input, facts);
      for (const w of plan.warnings) out.warn(`${remote.label}: ${w}`);
      await runServeInstall(remote, plan, facts, events);
      const keys = await readServerKeys(remote);

      // The server logs in to every host of the environment as its deploy user, with its own key.
      const known: string[] = [];
      for (const [i, r] of remotes.entries()) {
        const t = resolveTarget(cfg.hosts[i]!, cfg.ssh);
        const a = await authorizeServer(r, t.user, keys.sshPub);
        if (a.added) plan.changes.push(`${r.label}: authorized the server's key for ${t.user}`);
        if (a.hostKey) known.push(knownHostsLine(t.host, t.port, a.hostKey));
      }
      const changedBefore = plan.uploads.length > 0 || plan.apply.length > 0;
      const finish = planServeFinish(input, facts, known, changedBefore);
      await runBatch(remote, finish.steps, events);
      const token = facts.tokens ? null : await addFirstToken(remote, project.configInRepo);

      const changes = [...plan.changes, ...finish.changes];
      out.host(remote.label, changes.length ? changes.join("; ") : "nothing changed");
      const url = `https://${domain}/`;
      out.result(`qdeploy serve runs on ${remote.label} as ${SERVE_HOST.user}: ${url}`);
      if (token) out.result(`deploy token "admin" (shown once, keep it): ${token}`);
      out.result(`the server's ssh key (in each host's authorized_keys): ${keys.sshPub}`);
      if (keys.ageRecipient) {
        out.result(`the server's age recipient: ${keys.ageRecipient}`);
        out.result(`  let it read the secrets: qdeploy secrets recipients add ${keys.ageRecipient} && git commit secrets && qdeploy serve --install ${env}`);
      }
      if (cfg.ssh.identity || cfg.ssh.knownHosts !== "~/.ssh/known_hosts") {
        out.warn(`deploy.toml's ssh.identity/ssh.known_hosts name files the server reads in its checkout (${SERVE_HOST.repo}); for pushes from it leave them unset (it uses ${SERVE_HOST.home}/.ssh)`);
      }
      out.result(`next: curl ${url}healthz; open ${url} and log in with the token; webhooks: ${url}hooks/github`);
      ctx.out.data({ url, host: remote.label, token, sshPublicKey: keys.sshPub, ageRecipient: keys.ageRecipient || null, changes });
      return 0;
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
