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

/** Base class: `exitCode` is what the process exits with. */
export abstract class QdeployError extends Error {
  abstract readonly exitCode: number;
}

/** Bad command-line usage. Exit 2. */
export class UsageError extends QdeployError {
  readonly exitCode = 2;
}

/** deploy.toml (or another config input) is wrong; lists every problem. Exit 2. */
export class ConfigError extends QdeployError {
  readonly exitCode = 2;
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
  constructor(message: string, readonly output = "") {
    super(output ? `${message}\n${output.trimEnd()}` : message);
  }
}

/** A command or connection on a host failed. Exit 1. */
export class RemoteError extends QdeployError {
  readonly exitCode = 1;
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
}

/** A bug in qdeploy. Exit 1, with a stack trace under --verbose. */
export class InternalError extends QdeployError {
  readonly exitCode = 1;
}

function tail(label: string, text?: string, lines = 25): string {
  if (!text || !text.trim()) return "";
  const last = text.trimEnd().split("\n").slice(-lines);
  return `\n  ${label}:\n${last.map((l) => `    ${l}`).join("\n")}`;
}
