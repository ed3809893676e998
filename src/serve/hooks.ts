/**
 * Deploy webhooks, /hooks. They take no token: each request is signed with the webhook
 * secret (HMAC-SHA256 of the body, ./signature.ts), a secret of the target environment's own
 * store that the app never sees ([serve] webhook_secret). A delivery is handled once.
 *
 *   POST /hooks/github  GitHub's push event: [serve.branches] says which environment a branch deploys.
 *   POST /hooks/deploy  any CI: {"environment": "prod", "ref": "SHA or branch", "delivery": "ID"}.
 *
 * A hook is answered as soon as its run starts (GitHub gives up after 10 s); a push that comes
 * while that environment deploys waits for it, and only the newest one waiting is deployed.
 */
import { createHash } from "node:crypto";
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import path from "node:path";
import { AuthError, NotFoundError, OperationError, ReplayError, UsageError } from "../errors.ts";
import { startPush } from "./actions.ts";
import type { ServeEnv } from "./app.ts";
import { DeliveryLog } from "./deliveries.ts";
import type { ServeDeps } from "./deps.ts";
import { SIGNATURE, verifySignature } from "./signature.ts";

const ZERO_COMMIT = /^0+$/;

/** A push that waits for its environment's running deploy. */
interface Waiting {
  ref: string;
  by: string;
}

export function hookRoutes(deps: ServeDeps): Hono<ServeEnv> {
  const hooks = new Hono<ServeEnv>();
  const deliveries = new DeliveryLog(path.join(deps.stateDir, "deliveries"));
  const waiting = new Map<string, Waiting>();
  // GitHub's payloads are at most 25 MB; nothing else needs more.
  hooks.use("*", bodyLimit({ maxSize: 25 * 1024 * 1024, onError: () => { throw new UsageError("the body is larger than 25 MB"); } }));

  /** Starts the push now, or after the environment's running deploy (replacing an older waiting one). */
  const deployOrWait = (c: Context<ServeEnv>, env: string, w: Waiting) => {
    const busy = deps.runs.running(env);
    if (busy) {
      const first = !waiting.has(env);
      waiting.set(env, w);
      if (first) void busy.done.then(() => startWaiting(env));
      return c.json({ ok: true, environment: env, ref: w.ref, queued: true, after: busy.record.id }, 202);
    }
    return startPush(deps, env, w.by, w.ref, "started").then((run) => {
      c.header("Location", `/api/v1/runs/${run.record.id}`);
      return c.json({ ok: true, environment: env, ref: w.ref, run: run.record }, 202);
    });
  };

  const startWaiting = async (env: string): Promise<void> => {
    const w = waiting.get(env);
    if (!w) return;
    const busy = deps.runs.running(env);
    if (busy) return void busy.done.then(() => startWaiting(env));
    waiting.delete(env);
    // Its outcome is the run's record; nobody waits on this promise.
    await startPush(deps, env, w.by, w.ref, "started").catch(() => {});
  };

  hooks.post("/github", async (c) => {
    const raw = new Uint8Array(await c.req.arrayBuffer());
    const signature = signatureHeader(c, "x-hub-signature-256", "X-Hub-Signature-256");
    const branches = deps.serve.branches;
    const targets = [...new Set(Object.values(branches))];
    if (!targets.length) throw new NotFoundError('this server deploys no branch: add [serve.branches] to deploy.toml (main = "production")');
    const event = c.req.header("x-github-event");
    if (event !== "push") {
      // Nothing is deployed: any mapped environment's secret proves the sender.
      await requireSigned(deps, targets, raw, signature, "X-Hub-Signature-256");
      if (event === "ping") return c.json({ ok: true, pong: true });
      throw new UsageError(`X-GitHub-Event "${event ?? ""}" is not handled: send push events only`);
    }
    const payload = parseJson(raw) as { ref?: unknown; after?: unknown; deleted?: unknown };
    const branch = typeof payload.ref === "string" && payload.ref.startsWith("refs/heads/") ? payload.ref.slice("refs/heads/".length) : null;
    const env = branch === null ? undefined : branches[branch];
    if (!env) {
      await requireSigned(deps, targets, raw, signature, "X-Hub-Signature-256");
      const mapping = Object.entries(branches).map(([b, e]) => `${b} -> ${e}`).join(", ");
      throw new OperationError(`${String(payload.ref)} deploys nowhere; [serve.branches] maps ${mapping}`);
    }
    // Only the target environment's secret may deploy it: staging's CI cannot push to production.
    await requireSigned(deps, [env], raw, signature, "X-Hub-Signature-256");
    if (typeof payload.after !== "string" || !/^[0-9a-f]{40,64}$/.test(payload.after)) throw new UsageError('the payload has no commit ("after")');
    if (payload.deleted === true || ZERO_COMMIT.test(payload.after)) throw new OperationError(`branch ${branch} was deleted: nothing to deploy`);
    await claimOnce(deliveries, c.req.header("x-github-delivery"), raw, "X-GitHub-Delivery");
    return deployOrWait(c, env, { ref: payload.after, by: "github" });
  });

  hooks.post("/deploy", async (c) => {
    const raw = new Uint8Array(await c.req.arrayBuffer());
    const signature = signatureHeader(c, "x-qdeploy-signature-256", "X-Qdeploy-Signature-256");
    const body = parseJson(raw) as { environment?: unknown; ref?: unknown; delivery?: unknown };
    if (typeof body.environment !== "string") throw new UsageError('body: "environment" (a string) is required');
    // Before the signature is checked, the answer names no environment of this server.
    if (!deps.environments.includes(body.environment)) throw new NotFoundError(`no environment "${body.environment}"`);
    const env = body.environment;
    await requireSigned(deps, [env], raw, signature, "X-Qdeploy-Signature-256");
    if (typeof body.ref !== "string" || !body.ref) throw new UsageError('body: "ref" (a branch, tag or commit) is required');
    // The delivery id is in the signed body: a captured request sent again is a replay, whatever its headers.
    if (typeof body.delivery !== "string" || !body.delivery) throw new UsageError('body: "delivery" (an id unique to this request, e.g. the CI job\'s) is required');
    await claimOnce(deliveries, body.delivery, raw, "delivery");
    return deployOrWait(c, env, { ref: body.ref, by: "deploy-hook" });
  });

  return hooks;
}

/** The signature header, well-formed (sha256=64 hex), or 401 before anything is read or decrypted. */
function signatureHeader(c: Context<ServeEnv>, header: string, name: string): string {
  const value = c.req.header(header);
  if (!value) throw new AuthError("unauthorized", `no ${name} (sha256=HMAC-SHA256 of the body with the webhook secret)`);
  if (!SIGNATURE.test(value)) throw new AuthError("unauthorized", `${name} is not sha256=HEX`);
  return value;
}

/**
 * Records the delivery id and the body's hash; a replay of either is a ReplayError (409). The
 * signature covers the body, not the id header: the hash catches a signed body sent again
 * under a new id. (A new push to GitHub always has a new body: its `before`, its times.)
 */
async function claimOnce(deliveries: DeliveryLog, id: string | undefined, raw: Uint8Array, name: string): Promise<void> {
  if (!id) throw new UsageError(`no ${name}: each delivery needs an id, so a replay can be ignored`);
  const body = `body-${createHash("sha256").update(raw).digest("hex")}`;
  if (!(await deliveries.claim([id, body]))) throw new ReplayError(`delivery ${id} was handled already; ignored`);
}

/** Checks the signature against the webhook secret of these environments; AuthError if none matches. */
async function requireSigned(deps: ServeDeps, envs: string[], raw: Uint8Array, header: string, name: string): Promise<void> {
  const secretName = deps.serve.webhookSecret;
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
