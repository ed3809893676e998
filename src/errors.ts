/**
 * The closed set of errors qdeploy reports. The entry point catches them in one place
 * and prints one clear message; anything else is a bug (InternalError).
 */

/** One problem in deploy.toml: where it is and what is wrong. */
export interface ConfigProblem {
  file: string;
  line?: number;
  column?: number;
  /** Dotted key path, e.g. "web.health"; empty for file-level problems. */
  path: string;
  message: string;
}

/**
 * The closed set of error kinds, shared by the CLI and the HTTP API (`{ok: false, error:
 * {kind, message, hint}}`). The last five only arise over HTTP.
 */
export type ErrorKind = "usage" | "config" | "build" | "remote" | "operation" | "lock-held" | "internal" | "not-found" | "unauthorized" | "forbidden" | "replay" | "too-many";

/** Base class: `exitCode` is what the process exits with; `hint` says what to do next. */
export abstract class QdeployError extends Error {
  abstract readonly exitCode: number;
  abstract readonly kind: ErrorKind;
  hint?: string;
}

/** Bad command-line usage. Exit 2. */
export class UsageError extends QdeployError {
  readonly exitCode = 2;
  readonly kind = "usage";
}

/** deploy.toml (or another config input) is wrong; lists every problem. Exit 2. */
export class ConfigError extends QdeployError {
  readonly exitCode = 2;
  readonly kind = "config";
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join("\n"));
  }
}

/** `deploy.toml:12 web.health: must be string` */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line ? `${p.file}:${p.line}` : p.file;
  return p.path ? `${where} ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

/** `go build` (or the toolchain check) failed; `output` is go's own text. Exit 1. */
export class BuildError extends QdeployError {
  readonly exitCode = 1;
  readonly kind = "build";
  constructor(message: string, readonly output = "") {
    super(output ? `${message}\n${output.trimEnd()}` : message);
  }
}

/** A command or connection on a host failed. Exit 1. */
export class RemoteError extends QdeployError {
  readonly exitCode = 1;
  readonly kind = "remote";
  constructor(
    readonly host: string,
    message: string,
    readonly detail: { argv?: string[]; code?: number | null; stderr?: string; journal?: string } = {},
  ) {
    super(`${host}: ${message}${tail("stderr", detail.stderr)}${tail("journal", detail.journal)}`);
  }
}

/** Any other failure that is the user's to fix (missing tool, lock held, ...). Exit 1. */
export class OperationError extends QdeployError {
  readonly exitCode = 1;
  readonly kind: ErrorKind = "operation";
}

/** Another deploy holds the deploy lock on a host; `holder` is who, pid and since when. Exit 1 (HTTP 409). */
export class LockHeldError extends OperationError {
  override readonly kind = "lock-held";
  constructor(message: string, readonly holder: string) {
    super(message);
    this.hint = "wait for it to end, or see `qdeploy lock status ENV`";
  }
}

/** A thing asked for by name (an environment, a release, a run) does not exist. Exit 1 (HTTP 404). */
export class NotFoundError extends QdeployError {
  readonly exitCode = 1;
  readonly kind = "not-found";
}

/** An HTTP request without a valid token (401), or with one whose role does not allow it (403). */
export class AuthError extends QdeployError {
  readonly exitCode = 1;
  constructor(readonly kind: "unauthorized" | "forbidden", message: string) {
    super(message);
  }
}

/** A webhook delivery already handled (the same delivery id again): ignored (HTTP 409). */
export class ReplayError extends QdeployError {
  readonly exitCode = 1;
  readonly kind = "replay";
}

/** More at once than the server allows (log streams): refused now, fine later (HTTP 429, Retry-After). */
export class TooManyError extends QdeployError {
  readonly exitCode = 1;
  readonly kind = "too-many";
  constructor(message: string, hint: string, readonly retryAfterSec: number) {
    super(message);
    this.hint = hint;
  }
}

/** A bug in qdeploy. Exit 1, with a stack trace under --verbose. */
export class InternalError extends QdeployError {
  readonly exitCode = 1;
  readonly kind = "internal";
}

/**
 * Throws an InternalError unless `ok`: for what checked input guarantees (a renderer given a
 * config that passed `check`), never for what a user can get wrong.
 */
export function invariant(ok: unknown, message: string): asserts ok {
  if (!ok) throw new InternalError(message);
}

/** The JSON form of an error, for --json and the HTTP API. */
export interface ErrorBody {
  kind: ErrorKind;
  message: string;
  hint?: string;
  /** LockHeldError: who holds the lock. */
  holder?: string;
  /** ConfigError: every problem, with file, line and key path. */
  problems?: ConfigProblem[];
}

/** Any thrown value as an ErrorBody; what is not a QdeployError is a bug ("internal"). */
export function errorBody(e: unknown): ErrorBody {
  if (!(e instanceof QdeployError)) return { kind: "internal", message: e instanceof Error ? e.message : String(e) };
  return {
    kind: e.kind,
    message: e.message,
    ...(e.hint && { hint: e.hint }),
    ...(e instanceof LockHeldError && { holder: e.holder }),
    ...(e instanceof ConfigError && { problems: e.problems }),
  };
}

function tail(label: string, text?: string, lines = 25): string {
  if (!text || !text.trim()) return "";
  const last = text.trimEnd().split("\n").slice(-lines);
  return `\n  ${label}:\n${last.map((l) => `    ${l}`).join("\n")}`;
}
