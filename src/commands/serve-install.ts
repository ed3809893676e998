/** `qdeploy serve --install ENV` as the CLI prints it (the work is in src/ops/serve-install.ts). */
import { installServer } from "../ops/serve-install.ts";
import { SERVE_HOST } from "../render/serve-unit.ts";
import { type Ctx, loadEnvironment, opContext } from "./context.ts";

/** Installs (or updates) the server; prints the URL, the token (first time only), the keys and what is next. */
export async function serveInstall(ctx: Ctx, env: string): Promise<number> {
  const cfg = await loadEnvironment(ctx, env);
  const r = await installServer(opContext(ctx, cfg), ctx.configFile);
  const out = ctx.out;
  out.host(r.host, r.changes.length ? r.changes.join("; ") : "nothing changed");
  out.result(`qdeploy serve runs on ${r.host} as ${SERVE_HOST.user}: ${r.url}`);
  if (r.token) out.result(`deploy token "admin" (shown once, keep it): ${r.token}`);
  out.result(`the server's ssh key (in each host's authorized_keys): ${r.sshPublicKey}`);
  if (r.ageRecipient) {
    out.result(`the server's age recipient: ${r.ageRecipient}`);
    out.result(`  let it read the secrets: qdeploy secrets recipients add ${r.ageRecipient} && git commit secrets && qdeploy serve --install ${env}`);
  }
  for (const a of r.advice) out.warn(a);
  out.result(`next: curl ${r.url}healthz; open ${r.url} and log in with the token; webhooks: ${r.url}hooks/github`);
  out.data({ url: r.url, host: r.host, token: r.token, sshPublicKey: r.sshPublicKey, ageRecipient: r.ageRecipient, changes: r.changes });
  return 0;
}
