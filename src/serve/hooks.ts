/**
 * Deploy webhooks, /hooks. They take no token: each request is signed with the webhook
 * secret (HMAC-SHA256 of the body, ./signature.ts), a secret of the target environment's own
 * store that the app never sees ([serve] webhook_secret), read at most once a minute
 * (./webhook-secrets.ts). Until the signature matches, the sender is nobody: every failure is
 * the same 401, which names no environment and says nothing of the store. A delivery is handled
 * once, and one with a signed time only within the hour after it (./deliveries.ts).
 *
 *   POST /hooks/github  GitHub's push event: [serve.branches] says which environment a branch deploys.
 *   POST /hooks/deploy  any CI: {"environment": "prod", "ref": "SHA or branch", "delivery": "ID", "time": UNIX_SECONDS}.
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
import type { ResolvedPreviews } from "../config/types.ts";
import { prPreview } from "../plan/review-app.ts";
import { startPush } from "./actions.ts";
import { previewRunKey, startPreview, startPreviewDestroy } from "./review-apps.ts";
import type { Run } from "./runs.ts";
import { checkSentAt, DeliveryLog } from "./deliveries.ts";
import type { ServeDeps } from "./deps.ts";
import type { ServeEnv } from "./env.ts";
import { SIGNATURE, verifySignature } from "./signature.ts";
import { WebhookSecrets } from "./webhook-secrets.ts";

const ZERO_COMMIT = /^0+$/;

/** A push that waits for its environment's running deploy (or a preview's run, for its preview's). */
interface Waiting {
  ref: string;
  by: string;
  start?: () => Run | Promise<Run>;
}

/** The parts of GitHub's pull_request payload a preview reads. */
interface PullRequest {
  updated_at?: unknown;
  head?: { sha?: unknown; ref?: unknown; repo?: { full_name?: unknown } | null };
  base?: { repo?: { full_name?: unknown } | null };
}

export function hookRoutes(deps: ServeDeps): Hono<ServeEnv> {
  const hooks = new Hono<ServeEnv>();
  const now = () => deps.now().getTime();
  const deliveries = new DeliveryLog(path.join(deps.stateDir, "deliveries"), now);
  const secrets = new WebhookSecrets(async (env) => deps.secret(await deps.load(env), deps.serve.webhookSecret), { name: deps.serve.webhookSecret, now, log: deps.log });
  /** AuthError unless the signature is one of these environments' secrets'. */
  const requireSigned = async (envs: string[], raw: Uint8Array, header: string, name: string): Promise<void> => {
    for (const env of envs) {
      const secret = await secrets.get(env);
      if (secret && verifySignature(secret, raw, header)) return;
    }
    throw badSignature(deps, name);
  };
  const waiting = new Map<string, Waiting>();
  // GitHub's payloads are at most 25 MB; nothing else needs more.
  hooks.use("*", bodyLimit({ maxSize: 25 * 1024 * 1024, onError: () => { throw new UsageError("the body is larger than 25 MB"); } }));

  /**
   * Starts the push now, or after the environment's running deploy (replacing an older waiting
   * one). `start`: another run than a push of the environment (a preview's, keyed `env`).
   */
  const deployOrWait = async (c: Context<ServeEnv>, env: string, w: Waiting, start?: () => Run | Promise<Run>) => {
    const busy = deps.runs.running(env);
    if (busy) {
      const first = !waiting.has(env);
      waiting.set(env, { ...w, ...(start && { start }) });
      if (first) void busy.done.then(() => startWaiting(env));
      return c.json({ ok: true, environment: env, ref: w.ref, queued: true, after: busy.record.id }, 202);
    }
    const run = await (start ?? (() => startPush(deps, env, w.by, w.ref, "started")))();
    c.header("Location", `/api/v1/runs/${run.record.id}`);
    return c.json({ ok: true, environment: env, ref: w.ref, run: run.record }, 202);
  };

  const startWaiting = async (env: string): Promise<void> => {
    const w = waiting.get(env);
    if (!w) return;
    const busy = deps.runs.running(env);
    if (busy) return void busy.done.then(() => startWaiting(env));
    waiting.delete(env);
    // Its outcome is the run's record; nobody waits on this promise.
    await Promise.resolve()
      .then(() => (w.start ?? (() => startPush(deps, env, w.by, w.ref, "started")))())
      .catch(() => {});
  };

  hooks.post("/github", async (c) => {
    const raw = new Uint8Array(await c.req.arrayBuffer());
    const signature = signatureHeader(c, "x-hub-signature-256", "X-Hub-Signature-256");
    const event = c.req.header("x-github-event");
    if (event === "pull_request" && deps.previews) return pullRequest(c, deps.previews, raw, signature);
    const branches = deps.serve.branches;
    const targets = [...new Set(Object.values(branches))];
    if (!targets.length) throw new NotFoundError('this server deploys no branch: add [serve.branches] to deploy.toml (main = "production")');
    if (event !== "push") {
      // Nothing is deployed: any mapped environment's secret proves the sender.
      await requireSigned(targets, raw, signature, "X-Hub-Signature-256");
      if (event === "ping") return c.json({ ok: true, pong: true });
      throw new UsageError(`X-GitHub-Event "${event ?? ""}" is not handled: send push events only`);
    }
    const payload = parseJson(raw) as { ref?: unknown; after?: unknown; deleted?: unknown; repository?: { pushed_at?: unknown } };
    const branch = typeof payload.ref === "string" && payload.ref.startsWith("refs/heads/") ? payload.ref.slice("refs/heads/".length) : null;
    // Own keys only: a branch named constructor or __proto__ must not find Object.prototype's.
    const env = branch !== null && Object.hasOwn(branches, branch) ? branches[branch] : undefined;
    if (!env) {
      await requireSigned(targets, raw, signature, "X-Hub-Signature-256");
      const mapping = Object.entries(branches).map(([b, e]) => `${b} -> ${e}`).join(", ");
      throw new OperationError(`${String(payload.ref)} deploys nowhere; [serve.branches] maps ${mapping}`);
    }
    // Only the target environment's secret may deploy it: staging's CI cannot push to production.
    await requireSigned([env], raw, signature, "X-Hub-Signature-256");
    if (typeof payload.after !== "string" || !/^[0-9a-f]{40,64}$/.test(payload.after)) throw new UsageError('the payload has no commit ("after")');
    if (payload.deleted === true || ZERO_COMMIT.test(payload.after)) throw new OperationError(`branch ${branch} was deleted: nothing to deploy`);
    const pushedAt = pushTime(payload.repository?.pushed_at);
    if (pushedAt === null) throw new UsageError("the payload has no repository.pushed_at (GitHub sends the push's time): it cannot be told from a replay");
    await claimOnce(deliveries, c.req.header("x-github-delivery"), raw, "X-GitHub-Delivery", { sentMs: pushedAt, nowMs: now() });
    return deployOrWait(c, env, { ref: payload.after, by: "github" });
  });

  /**
   * GitHub's pull_request event, with [previews]: opened, reopened and synchronize make or
   * update preview pr-N from refs/pull/N/head; closed destroys it; other actions are ignored.
   * Signed with the previews' environment's secret. A fork's pull request is refused unless
   * previews.forks; a new preview over previews.max is refused in the answer.
   */
  const pullRequest = async (c: Context<ServeEnv>, previews: ResolvedPreviews, raw: Uint8Array, signature: string) => {
    await requireSigned([previews.environment], raw, signature, "X-Hub-Signature-256");
    const payload = parseJson(raw) as { action?: unknown; number?: unknown; pull_request?: PullRequest };
    const pr = payload.pull_request;
    if (typeof payload.number !== "number" || !Number.isInteger(payload.number) || payload.number < 1 || !pr) throw new UsageError('the payload has no pull request ("number", "pull_request")');
    const name = prPreview(payload.number);
    const action = String(payload.action);
    if (!["opened", "reopened", "synchronize", "closed"].includes(action)) return c.json({ ok: true, preview: name, ignored: `action "${action}"` });
    const updated = typeof pr.updated_at === "string" ? Date.parse(pr.updated_at) : NaN;
    if (Number.isNaN(updated)) throw new UsageError("the payload has no pull_request.updated_at (GitHub sends the event's time): it cannot be told from a replay");
    await claimOnce(deliveries, c.req.header("x-github-delivery"), raw, "X-GitHub-Delivery", { sentMs: updated, nowMs: now() });
    const key = previewRunKey(previews, name);
    if (action === "closed") return deployOrWait(c, key, { ref: name, by: "github" }, () => startPreviewDestroy(deps, name, "github"));
    const head = pr.head?.repo?.full_name;
    const base = pr.base?.repo?.full_name;
    if (head !== base && !previews.forks) {
      throw new OperationError(`pull request #${payload.number} comes from a fork (${String(head)}): previews.forks is false, so its code is not built`);
    }
    if (typeof pr.head?.sha !== "string" || !/^[0-9a-f]{40,64}$/.test(pr.head.sha)) throw new UsageError('the payload has no head commit ("pull_request.head.sha")');
    const branch = typeof pr.head?.ref === "string" ? pr.head.ref : undefined;
    const id = { name, pr: payload.number, ...(branch !== undefined && { branch }) };
    const repo = (payload as { repository?: { full_name?: unknown } }).repository?.full_name;
    const github = typeof repo === "string" ? { repo, sha: pr.head.sha } : undefined;
    return deployOrWait(c, key, { ref: pr.head.sha, by: "github" }, () => startPreview(deps, id, `refs/pull/${payload.number}/head`, "github", github));
  };

  hooks.post("/deploy", async (c) => {
    const raw = new Uint8Array(await c.req.arrayBuffer());
    const signature = signatureHeader(c, "x-qdeploy-signature-256", "X-Qdeploy-Signature-256");
    const body = parseJson(raw) as { environment?: unknown; ref?: unknown; delivery?: unknown; time?: unknown };
    if (typeof body.environment !== "string") throw new UsageError('body: "environment" (a string) is required');
    const env = body.environment;
    // Before the signature is checked, an unknown environment is answered as a bad signature: the answer names none.
    if (!deps.environments.includes(env)) throw badSignature(deps, "X-Qdeploy-Signature-256");
    await requireSigned([env], raw, signature, "X-Qdeploy-Signature-256");
    if (typeof body.ref !== "string" || !body.ref) throw new UsageError('body: "ref" (a branch, tag or commit) is required');
    // The delivery id is in the signed body: a captured request sent again is a replay, whatever its headers.
    if (typeof body.delivery !== "string" || !body.delivery) throw new UsageError('body: "delivery" (an id unique to this request, e.g. the CI job\'s) is required');
    if (body.time !== undefined && (typeof body.time !== "number" || !Number.isFinite(body.time))) throw new UsageError('body: "time" (when the request was made, Unix seconds) must be a number');
    await claimOnce(deliveries, body.delivery, raw, "delivery", body.time === undefined ? undefined : { sentMs: body.time * 1000, nowMs: now() });
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
 * Records the delivery id and the body's hash; a replay of either is a ReplayError (409), and so
 * is a delivery whose signed time is too old. The signature covers the body, not the id header:
 * the hash catches a signed body sent again under a new id. (A new push to GitHub always has a
 * new body: its `before`, its times.)
 */
async function claimOnce(deliveries: DeliveryLog, id: string | undefined, raw: Uint8Array, name: string, sent?: { sentMs: number; nowMs: number }): Promise<void> {
  if (!id) throw new UsageError(`no ${name}: each delivery needs an id, so a replay can be ignored`);
  if (sent) checkSentAt(id, sent.sentMs, sent.nowMs);
  const body = `body-${createHash("sha256").update(raw).digest("hex")}`;
  if (!(await deliveries.claim([id, body]))) throw new ReplayError(`delivery ${id} was handled already; ignored`);
}

/**
 * The one answer to a request not (yet) signed by a known environment's secret: a wrong signature,
 * an unknown environment, a store without the secret or that cannot be read (those two the
 * server's log says, ./webhook-secrets.ts).
 */
function badSignature(deps: ServeDeps, name: string): AuthError {
  return new AuthError("unauthorized", `${name} does not match the body signed with ${deps.serve.webhookSecret}`);
}

/** GitHub's repository.pushed_at in ms: Unix seconds in push events (an ISO time elsewhere); null if absent. */
function pushTime(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return v * 1000;
  if (typeof v === "string" && !Number.isNaN(Date.parse(v))) return Date.parse(v);
  return null;
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
