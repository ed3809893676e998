/** @jsxRuntime automatic @jsxImportSource hono/jsx */
/**
 * The dashboard, server-rendered with hono's JSX (pages in ./pages/): log in with a token
 * (kept in an HttpOnly cookie), see environments, hosts, releases, runs, logs and the audit
 * log, roll back or restart with the deploy role. It reads through the same operations as
 * the CLI (./actions.ts); it shows what they return and their events (redacted by ./runs.ts, log lines here).
 */
import type { Context, MiddlewareHandler } from "hono";
import { Hono } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { AuthError, type ErrorBody, errorBody, NotFoundError, UsageError } from "../errors.ts";
import { audit } from "../ops/audit.ts";
import { logs } from "../ops/host-commands.ts";
import { releases } from "../ops/releases.ts";
import { status } from "../ops/status.ts";
import { inspect, requireServed, startPromote, startRestart, startRollback } from "./actions.ts";
import { livePreviews, previewName, startPreviewDestroy } from "./review-apps.ts";
import { requireRole, TOKEN_COOKIE } from "./auth.ts";
import type { ServeDeps } from "./deps.ts";
import type { ServeEnv } from "./env.ts";
import { errorAnswer } from "./http-errors.ts";
import { EnvPage, type Part } from "./pages/environment.tsx";
import { ErrorPage } from "./pages/error.tsx";
import { HomePage } from "./pages/home.tsx";
import type { Viewer } from "./pages/layout.tsx";
import { LoginPage } from "./pages/login.tsx";
import { LogsPage } from "./pages/logs.tsx";
import { PreviewsPage } from "./pages/previews.tsx";
import { RunPage } from "./pages/run.tsx";

/** Lines of journal the logs page starts with. */
const LOG_LINES = 200;

/** Whether the browser reached us over https (directly, or through Caddy, which says so). */
export function overHttps(c: Context): boolean {
  return new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto")?.split(",")[0]?.trim() === "https";
}

/**
 * The origin a same-site form posts from: the Host the browser asked for, with the scheme it
 * used. Behind Caddy the URL Bun sees is http://, so the default check (origin === URL's
 * origin) would refuse every form.
 */
export function expectedOrigin(c: Context): string {
  const host = c.req.header("host") ?? new URL(c.req.url).host;
  return `${overHttps(c) ? "https" : "http"}://${host}`;
}

/** The pages at /: they need a token, kept in a cookie by the login form. */
export function dashboardRoutes(deps: ServeDeps): Hono<ServeEnv> {
  const ui = new Hono<ServeEnv>();
  // Per route, never ui.use("*"): mounted at /, that would also catch /api/v1's unknown paths.
  // The pages' forms carry the cookie; sameOrigin (below) checks each form's Origin.
  const read = requireRole(deps.tokens, "read", { cookieForms: true });
  const deploy = requireRole(deps.tokens, "deploy", { cookieForms: true });
  // Forms carry the cookie; the Origin check (plus SameSite=Strict) keeps other sites' forms out.
  const sameOrigin: MiddlewareHandler<ServeEnv> = csrf({ origin: (origin, c) => origin === expectedOrigin(c) });
  const viewer = (c: Context<ServeEnv>): Viewer => ({ name: c.var.token.name, role: c.var.token.role });
  const who = (c: Context<ServeEnv>) => c.var.token.name;

  ui.get("/login", (c) => c.html(<LoginPage />));

  ui.post("/login", sameOrigin, async (c) => {
    const token = String((await c.req.parseBody()).token ?? "").trim();
    try {
      await deps.tokens.verify(token);
    } catch (e) {
      if (!(e instanceof AuthError)) throw e;
      return c.html(<LoginPage error={e.message} />, 401);
    }
    setCookie(c, TOKEN_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/", secure: overHttps(c) });
    return c.redirect("/", 303);
  });

  ui.post("/logout", sameOrigin, (c) => {
    deleteCookie(c, TOKEN_COOKIE, { path: "/", secure: overHttps(c) });
    return c.redirect("/login", 303);
  });

  ui.get("/", read, async (c) => {
    const envs = await Promise.all(
      deps.environments.map(async (env) => {
        const s = await settle(inspect(deps, env, who(c), status));
        return { env, status: s.value, error: s.error };
      }),
    );
    return c.html(<HomePage app={deps.app} viewer={viewer(c)} envs={envs} previews={Boolean(deps.previews)} />);
  });

  ui.get("/env/:env", read, async (c) => {
    const env = requireServed(deps, c.req.param("env"));
    const [s, r, a] = await Promise.all([
      settle(inspect(deps, env, who(c), (op) => status(op, {}, { usage: true }))),
      settle(inspect(deps, env, who(c), releases)),
      settle(inspect(deps, env, who(c), (op) => audit(op, { lines: 50 }))),
    ]);
    return c.html(<EnvPage env={env} viewer={viewer(c)} status={s} releases={r} audit={a} runs={deps.runs.list(env).slice(0, 10)} promoteTo={deps.environments.filter((e) => e !== env)} now={Math.floor(deps.now().getTime() / 1000)} />);
  });

  ui.get("/env/:env/logs", read, async (c) => {
    const env = requireServed(deps, c.req.param("env"));
    const lines: { host: string; line: string }[] = [];
    const done = await settle(inspect(deps, env, who(c), (op) => logs(op, { proc: null, follow: false, since: null, lines: LOG_LINES }, (host, line) => lines.push({ host, line: op.redactor.redact(line) }))));
    return c.html(<LogsPage env={env} viewer={viewer(c)} lines={lines} error={done.error} />);
  });

  ui.post("/env/:env/rollback", sameOrigin, deploy, async (c) => {
    const release = String((await c.req.parseBody()).release ?? "").trim();
    if (release && !/^\d{14}(-\d+)?$/.test(release)) throw new UsageError(`release "${release}" is not a release id`);
    const run = await startRollback(deps, c.req.param("env"), who(c), release || null);
    return c.redirect(`/runs/${run.record.id}`, 303);
  });

  ui.post("/env/:env/promote", sameOrigin, deploy, async (c) => {
    const form = await c.req.parseBody();
    const [from, release] = [String(form.from ?? "").trim(), String(form.release ?? "").trim()];
    if (release && !/^\d{14}(-\d+)?$/.test(release)) throw new UsageError(`release "${release}" is not a release id`);
    const run = await startPromote(deps, c.req.param("env"), who(c), from, release || null);
    return c.redirect(`/runs/${run.record.id}`, 303);
  });

  ui.get("/previews", read, async (c) => {
    const previews = deps.previews;
    if (!previews) throw new NotFoundError("this server makes no previews: add [previews] to deploy.toml");
    const list = await settle(livePreviews(deps, who(c)));
    const runs = deps.runs.list().filter((r) => r.env.startsWith(`${previews.environment}/`)).slice(0, 10);
    return c.html(<PreviewsPage app={deps.app} environment={previews.environment} viewer={viewer(c)} previews={list} ttlSec={previews.ttlSec} max={previews.max} runs={runs} now={deps.now().getTime()} />);
  });

  ui.post("/previews/:name/destroy", sameOrigin, deploy, async (c) => {
    const run = startPreviewDestroy(deps, previewName(c.req.param("name")), who(c));
    return c.redirect(`/runs/${run.record.id}`, 303);
  });

  ui.post("/env/:env/restart", sameOrigin, deploy, async (c) => {
    const proc = String((await c.req.parseBody()).process ?? "").trim();
    const run = await startRestart(deps, c.req.param("env"), who(c), proc || null);
    return c.redirect(`/runs/${run.record.id}`, 303);
  });

  ui.get("/runs/:id", read, (c) => {
    const run = deps.runs.get(c.req.param("id"));
    if (!run) throw new NotFoundError(`no run "${c.req.param("id")}" (the server keeps the last 50, until it restarts)`);
    return c.html(<RunPage run={run.record} events={run.events} viewer={viewer(c)} />);
  });

  // Pages answer pages: no token (or a bad one) goes to the login form, anything else is the
  // error's message on an HTML page with the API's status.
  ui.onError((e, c) => {
    const { status: code, body } = errorAnswer(e);
    if (code === 401) {
      deleteCookie(c, TOKEN_COOKIE, { path: "/" });
      return c.redirect("/login", 303);
    }
    if (code === 500) console.error(e);
    const token = c.get("token");
    return c.html(<ErrorPage status={code} error={body.error} viewer={token ? { name: token.name, role: token.role } : null} />, code);
  });
  return ui;
}

/** A page part: its value, or the error that kept it (a host down shows as a message). */
async function settle<T>(p: Promise<T>): Promise<Part<T>> {
  try {
    return { value: await p, error: null };
  } catch (e) {
    const error: ErrorBody = errorBody(e);
    return { value: null, error };
  }
}
