/**
 * Deploy webhooks, /hooks. They take no token: each request is signed with the webhook
 * secret (HMAC-SHA256 of the body, ./signature.ts), a secret of the environment's own store
 * that the app never sees ([serve] webhook_secret). A delivery id is handled once.
 *
 *   POST /hooks/github  GitHub's push event: [serve.branches] says which environment a branch deploys.
 *   POST /hooks/deploy  any CI: {"environment": "prod", "ref": "SHA or branch"}, the same scheme.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import path from "node:path";
import { AuthError, NotFoundError, OperationError, ReplayError, UsageError } from "../errors.ts";
import { requireServed, startPush } from "./actions.ts";
import type { ServeEnv } from "./app.ts";
import { DeliveryLog } from "./deliveries.ts";
import type { ServeDeps } from "./deps.ts";
import { verifySignature } from "./signature.ts";

const ZERO_COMMIT = /^0+$/;

export function hookRoutes(deps: ServeDeps): Hono<ServeEnv> {
  const hooks = new Hono<ServeEnv>();
  const deliveries = new DeliveryLog(path.join(deps.stateDir, "deliveries"));

  hooks.post("/github", async (c) => {
    const raw = new Uint8Array(await c.req.arrayBuffer());
    const branches = deps.serve.branches;
    const targets = [...new Set(Object.values(branches))];
    if (!targets.length) throw new NotFoundError("this server deploys no branch: add [serve.branches] to deploy.toml (main = \"production\")");
    await requireSigned(deps, targets, raw, c.req.header("x-hub-signature-256"), "X-Hub-Signature-256");
    const event = c.req.header("x-github-event");
    if (event === "ping") return c.json({ ok: true, pong: true });
    if (event !== "push") throw new UsageError(`X-GitHub-Event "${event ?? ""}" is not handled: send push events only`);
    const payload = parseJson(raw) as { ref?: unknown; after?: unknown; deleted?: unknown };
    const branch = typeof payload.ref === "string" && payload.ref.startsWith("refs/heads/") ? payload.ref.slice("refs/heads/".length) : null;
    const env = branch === null ? undefined : branches[branch];
    const mapping = Object.entries(branches).map(([b, e]) => `${b} -> ${e}`).join(", ");
    if (!env) throw new OperationError(`${String(payload.ref)} deploys nowhere; [serve.branches] maps ${mapping}`);
    if (typeof payload.after !== "string" || !/^[0-9a-f]{40,64}$/.test(payload.after)) throw new UsageError('the payload has no commit ("after")');
    if (payload.deleted === true || ZERO_COMMIT.test(payload.after)) throw new OperationError(`branch ${branch} was deleted: nothing to deploy`);
    return deployOnce(c, deps, deliveries, c.req.header("x-github-delivery"), "X-GitHub-Delivery", env, "github", payload.after);
  });

  hooks.post("/deploy", async (c) => {
    const raw = new Uint8Array(await c.req.arrayBuffer());
    const header = c.req.header("x-qdeploy-signature-256");
    if (!header) throw new AuthError("unauthorized", "no X-Qdeploy-Signature-256 (sha256=HMAC-SHA256 of the body with the webhook secret)");
    const body = parseJson(raw) as { environment?: unknown; ref?: unknown };
    if (typeof body.environment !== "string") throw new UsageError('body: "environment" (a string) is required');
    if (typeof body.ref !== "string" || !body.ref) throw new UsageError('body: "ref" (a branch, tag or commit) is required');
    const env = requireServed(deps, body.environment);
    await requireSigned(deps, [env], raw, header, "X-Qdeploy-Signature-256");
    return deployOnce(c, deps, deliveries, c.req.header("x-qdeploy-delivery"), "X-Qdeploy-Delivery", env, "deploy-hook", body.ref);
  });

  return hooks;
}

/** A push of `ref` for this delivery, unless the delivery was handled already (409, ignored). */
async function deployOnce(c: Context<ServeEnv>, deps: ServeDeps, deliveries: DeliveryLog, id: string | undefined, header: string, env: string, by: string, ref: string) {
  if (!id) throw new UsageError(`no ${header}: each delivery needs an id, so a replay can be ignored`);
  if (!(await deliveries.claim(id))) throw new ReplayError(`delivery ${id} was handled already; ignored`);
  try {
    const run = await startPush(deps, env, by, ref);
    c.header("Location", `/api/v1/runs/${run.record.id}`);
    return c.json({ ok: true, environment: env, ref, run: run.record }, 202);
  } catch (e) {
    // Nothing started (a deploy was running, the fetch failed): a redelivery may try again.
    await deliveries.release(id);
    throw e;
  }
}

/**
 * Checks the signature against the webhook secret of each of these environments (one
 * GitHub webhook has one secret: the same value in each store); AuthError if none matches.
 */
async function requireSigned(deps: ServeDeps, envs: string[], raw: Uint8Array, header: string | undefined, name: string): Promise<void> {
  const secretName = deps.serve.webhookSecret;
  if (!header) throw new AuthError("unauthorized", `no ${name}: set the webhook's secret to the value of ${secretName} in the secret store`);
  let anySecret = false;
  for (const env of envs) {
    const secret = await deps.secret(await deps.load(env), secretName);
    if (!secret) continue;
    anySecret = true;
    if (verifySignature(secret, raw, header)) return;
  }
  if (!anySecret) throw new AuthError("unauthorized", `the webhook secret ${secretName} is not in the secret store: qdeploy secrets set ENV ${secretName}`);
  throw new AuthError("unauthorized", `${name} does not match the body signed with ${secretName}`);
}

function parseJson(raw: Uint8Array): unknown {
  try {
    const v = JSON.parse(new TextDecoder().decode(raw));
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v;
  } catch {
    // below
  }
  throw new UsageError("the body is not a JSON object (content type application/json)");
}
