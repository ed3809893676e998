/** Errors as HTTP answers: the CLI's closed set (src/errors.ts), each kind with its status. */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorBody, type ErrorKind, errorBody, TooManyError } from "../errors.ts";

export const STATUS: Record<ErrorKind, ContentfulStatusCode> = {
  usage: 400,
  unauthorized: 401,
  forbidden: 403,
  "not-found": 404,
  "lock-held": 409,
  replay: 409,
  "too-many": 429,
  config: 422,
  build: 422,
  operation: 422,
  remote: 502,
  internal: 500,
};

/** Any thrown value as `{ok: false, error}` with its status (hono's HTTPException keeps its own). */
export function errorAnswer(e: unknown): { status: ContentfulStatusCode; body: { ok: false; error: ErrorBody } } {
  if (e instanceof HTTPException) {
    const kind: ErrorKind = e.status === 401 ? "unauthorized" : e.status === 403 ? "forbidden" : e.status === 404 ? "not-found" : e.status < 500 ? "usage" : "internal";
    return { status: e.status as ContentfulStatusCode, body: { ok: false, error: { kind, message: e.message || `HTTP ${e.status}` } } };
  }
  const error = errorBody(e);
  return { status: STATUS[error.kind], body: { ok: false, error } };
}

/** The one onError: JSON with the error's status; a 401 says how to authenticate, a 429 when to come back. */
export function onError(e: unknown, c: Context): Response {
  const { status, body } = errorAnswer(e);
  if (status === 500) console.error(e);
  if (status === 401) c.header("WWW-Authenticate", 'Bearer realm="qdeploy"');
  if (e instanceof TooManyError) c.header("Retry-After", String(e.retryAfterSec));
  return c.json(body, status);
}
