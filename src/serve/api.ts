/**
 * The JSON API, /api/v1: thin handlers over the operations the CLI runs (src/ops/, through
 * ./actions.ts). Reading needs a read token, changing (push, rollback, restart) a deploy token.
 * Progress and logs stream as Server-Sent Events.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import { errorBody, NotFoundError, UsageError } from "../errors.ts";
import { audit } from "../ops/audit.ts";
import type { OpEvent } from "../events.ts";
import { logs } from "../ops/host-commands.ts";
import { releases } from "../ops/releases.ts";
import { status } from "../ops/status.ts";
import { hostProcesses } from "../plan/fleet.ts";
import { Redactor } from "../secrets/redact.ts";
import { inspect, requireServed, serveWho, startPromote, startPush, startRestart, startRollback } from "./actions.ts";
import { livePreviews, previewName, startPreview, startPreviewDestroy } from "./review-apps.ts";
import { branchPreview, prPreview } from "../plan/review-app.ts";
import { requireRole } from "./auth.ts";
import type { ServeDeps } from "./deps.ts";
import type { ServeEnv } from "./env.ts";
import { LogStreams } from "./log-streams.ts";
import { openApiDocument } from "./openapi.ts";
import type { Run } from "./runs.ts";

/** An SSE comment this often keeps idle streams (a quiet `logs -f`) open through proxies and Bun's idleTimeout. */
export const SSE_HEARTBEAT_MS = 15_000;

/** Every /api/v1 route; each needs a token (read to look, deploy to change). */
export function apiRoutes(deps: ServeDeps): Hono<ServeEnv> {
  const api = new Hono<ServeEnv>();
  const deploy = requireRole(deps.tokens, "deploy");
  api.use("*", requireRole(deps.tokens, "read"));
  const by = (c: Context<ServeEnv>) => c.var.token.name;

  api.get("/openapi.json", (c) => c.json(openApiDocument()));

  api.get("/environments", async (c) => {
    const environments = await Promise.all(deps.environments.map((name) => describeEnvironment(deps, name)));
    return c.json({ ok: true, environments });
  });

  api.get("/environments/:env/status", async (c) => c.json({ ok: true, ...(await inspect(deps, c.req.param("env"), by(c), (op) => status(op))) }));
  api.get("/environments/:env/releases", async (c) => c.json({ ok: true, ...(await inspect(deps, c.req.param("env"), by(c), (op) => releases(op))) }));
  api.get("/environments/:env/audit", async (c) => {
    const lines = intQuery(c, "lines", 100);
    return c.json({ ok: true, entries: await inspect(deps, c.req.param("env"), by(c), (op) => audit(op, { lines })) });
  });

  const started = (c: Context<ServeEnv>, run: Run) => {
    c.header("Location", `/api/v1/runs/${run.record.id}`);
    return c.json({ ok: true, run: run.record }, 202);
  };
  api.post("/environments/:env/push", deploy, async (c) => started(c, await startPush(deps, c.req.param("env"), by(c), (await body(c, ["ref"])).ref)));
  api.post("/environments/:env/rollback", deploy, async (c) => started(c, await startRollback(deps, c.req.param("env"), by(c), (await body(c, ["release"])).release)));
  api.post("/environments/:env/promote", deploy, async (c) => {
    const { from, release } = await body(c, ["from", "release"]);
    if (from === null) throw new UsageError("body.from: the environment whose release to promote is required");
    return started(c, await startPromote(deps, c.req.param("env"), by(c), from, release));
  });
  api.post("/environments/:env/restart", deploy, async (c) => started(c, await startRestart(deps, c.req.param("env"), by(c), (await body(c, ["process"])).process)));

  api.get("/previews", async (c) => c.json({ ok: true, previews: await livePreviews(deps, by(c)) }));
  api.post("/previews", deploy, async (c) => {
    const { ref, pr } = await body(c, ["ref", "pr"]);
    if (ref === null) throw new UsageError("body.ref: the branch (or commit) to deploy is required");
    if (pr !== null && !/^[1-9][0-9]*$/.test(pr)) throw new UsageError(`body.pr: "${pr}" is not a pull request number`);
    const id = pr === null ? { name: branchPreview(ref), branch: ref } : { name: prPreview(Number(pr)), pr: Number(pr) };
    return started(c, await startPreview(deps, id, ref, by(c)));
  });
  api.delete("/previews/:name", deploy, (c) => started(c, startPreviewDestroy(deps, previewName(c.req.param("name")), by(c))));

  const follows = new LogStreams();
  api.get("/environments/:env/logs", (c) => streamLogs(c, deps, follows));

  api.get("/runs", (c) => {
    const env = c.req.query("env");
    if (env !== undefined) requireServed(deps, env);
    return c.json({ ok: true, runs: deps.runs.list(env) });
  });
  api.get("/runs/:id", (c) => c.json({ ok: true, run: requireRun(deps, c.req.param("id")).record }));
  api.get("/runs/:id/events", (c) => streamRun(c, requireRun(deps, c.req.param("id"))));
  return api;
}

/** One environment as GET /environments lists it; a broken config is reported, not fatal to the list. */
async function describeEnvironment(deps: ServeDeps, name: string) {
  const running = deps.runs.running(name)?.record ?? null;
  try {
    const cfg = await deps.load(name);
    return { name, hosts: cfg.hosts.map((h) => h.label), roles: Object.fromEntries(cfg.hosts.map((h) => [h.label, hostProcesses(cfg, h)])), running };
  } catch (e) {
    return { name, hosts: [], roles: {}, running, error: errorBody(e) };
  }
}

function requireRun(deps: ServeDeps, id: string): Run {
  const run = deps.runs.get(id);
  if (!run) throw new NotFoundError(`no run "${id}" (runs are kept in memory until the server restarts)`);
  return run;
}

/**
 * A POST's JSON body: an object whose keys are among `fields`, each a non-empty string; an
 * empty body is `{}`. Anything else is a 400 naming the field.
 */
export async function body<K extends string>(c: Context, fields: K[]): Promise<Record<K, string | null>> {
  const text = await c.req.text();
  let value: unknown = {};
  if (text.trim() !== "") {
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`the body is not JSON (${(e as Error).message}); send e.g. {${fields.map((f) => `"${f}": "..."`).join(", ")}} or nothing`);
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UsageError(`the body must be a JSON object (fields: ${fields.join(", ")})`);
  const out = Object.fromEntries(fields.map((f) => [f, null])) as Record<K, string | null>;
  for (const [key, v] of Object.entries(value)) {
    if (!(fields as string[]).includes(key)) throw new UsageError(`body.${key}: unknown field (fields: ${fields.join(", ")})`);
    if (v === null) continue;
    if (typeof v !== "string" || v.trim() === "") throw new UsageError(`body.${key}: must be a non-empty string`);
    out[key as K] = v;
  }
  return out;
}

/** A positive whole number from the query string, or the default; else a 400 naming it. */
function intQuery(c: Context, name: string, fallback: number): number {
  const v = c.req.query(name);
  if (v === undefined || v === "") return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 100_000) throw new UsageError(`?${name}=${v}: must be a whole number from 1 to 100000`);
  return Number(v);
}

/** Writes `: heartbeat` comments until the stream ends. */
function heartbeat(stream: SSEStreamingApi): () => void {
  const t = setInterval(() => void stream.write(": heartbeat\n\n"), SSE_HEARTBEAT_MS);
  return () => clearInterval(t);
}

/**
 * GET /runs/:id/events: every event so far, then the live ones (`event: op`), then
 * `event: end` with the RunRecord. A finished run replays and ends at once.
 */
function streamRun(c: Context<ServeEnv>, run: Run): Response {
  return streamSSE(c, async (stream) => {
    const stop = heartbeat(stream);
    try {
      // Subscribe and copy what happened so far in one synchronous step: no event is lost or sent twice.
      const queue: (OpEvent | null)[] = [];
      let wake = () => {};
      const unsubscribe = run.subscribe((e) => {
        queue.push(e);
        wake();
      });
      stream.onAbort(() => {
        unsubscribe();
        wake();
      });
      const replay = run.events.slice();
      for (const e of replay) {
        if (stream.aborted) return;
        await stream.writeSSE({ event: "op", data: JSON.stringify(e) });
      }
      // The client may leave during a write: look at `aborted` before every wait, so a
      // wake-up that came while writing is never waited for again.
      for (;;) {
        if (stream.aborted) return;
        if (!queue.length) {
          await new Promise<void>((r) => (wake = r));
          continue;
        }
        const e = queue.shift()!;
        if (e === null) break;
        await stream.writeSSE({ event: "op", data: JSON.stringify(e) });
      }
      await run.done;
      await stream.writeSSE({ event: "end", data: JSON.stringify(run.record) });
    } finally {
      stop();
    }
  });
}

/**
 * GET /environments/:env/logs: `event: line` with `{host, line}` per journal line. Without
 * follow it ends with `event: end`; with follow=1 it runs until the client goes away,
 * which aborts each host's journalctl. A follow beyond the caps is a 429 (./log-streams.ts).
 */
async function streamLogs(c: Context<ServeEnv>, deps: ServeDeps, follows: LogStreams): Promise<Response> {
  const env = requireServed(deps, c.req.param("env") ?? "");
  const follow = ["1", "true", "yes"].includes(c.req.query("follow") ?? "");
  const o = { proc: c.req.query("process") || null, since: c.req.query("since") || null, lines: intQuery(c, "lines", 100), follow };
  if (o.since !== null && /[\r\n]/.test(o.since)) throw new UsageError("?since: one line, as journalctl --since takes it");
  const cfg = await deps.load(env);
  // Checked before the stream starts, so a wrong name is a 400, not an error event.
  if (o.proc && o.proc !== "restart" && cfg.processes[o.proc] === undefined) throw new UsageError(`?process=${o.proc}: no such process (processes: ${Object.keys(cfg.processes).join(", ")})`);
  // A follow holds its channels until the client leaves: on the log streams' own connections.
  // A one-shot read ends at once, as a status does, and shares the connection status uses.
  // The app's lines leave the process here: redacted with the secret values logs() read.
  const redactor = new Redactor();
  const op = deps.opContext(cfg, { events: () => {}, redactor }, serveWho(c.var.token.name), follow ? "logs" : "ops");
  // Taken last: from here only the stream runs, and its end (the client gone too) gives it back.
  const release = follow ? follows.take(env, c.var.token.name) : () => {};
  const abort = new AbortController();
  c.req.raw.signal?.addEventListener("abort", () => abort.abort(), { once: true });
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => abort.abort());
    const stop = heartbeat(stream);
    try {
      // Lines are written in order, one after another; the end waits for the last.
      let written = Promise.resolve();
      await logs(op, { ...o, signal: abort.signal }, (host, line) => {
        written = written.then(() => stream.writeSSE({ event: "line", data: JSON.stringify({ host, line: redactor.redact(line) }) }));
      });
      await written;
      await stream.writeSSE({ event: "end", data: JSON.stringify({ ok: true }) });
    } catch (e) {
      if (abort.signal.aborted) return; // the client left: journalctl's abort is expected
      await stream.writeSSE({ event: "error", data: redactor.redact(JSON.stringify({ ok: false, error: errorBody(e) })) });
    } finally {
      stop();
      abort.abort();
      release();
    }
  });
}
