/**
 * Local processes for the sandbox (mmdebstrap, qemu-img, ssh, ...): argv arrays only.
 */
import { OperationError } from "../errors.ts";

/** What a finished process left behind. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Options for `run`; `timeoutMs` kills the process (SIGKILL) when it is reached. */
export interface RunOptions {
  timeoutMs?: number;
  env?: Record<string, string | undefined>;
  stdin?: "ignore" | "inherit";
}

/** Runs argv to completion and returns its exit code and output; never throws on exit code. */
export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn(argv, {
      stdin: opts.stdin ?? "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
    });
  } catch (err) {
    throw new OperationError(`cannot start ${argv[0]}: ${(err as Error).message}`);
  }
  let timedOut = false;
  const timer = opts.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        proc.kill("SIGKILL");
      }, opts.timeoutMs)
    : undefined;
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout as ReadableStream).text(),
    new Response(proc.stderr as ReadableStream).text(),
    proc.exited,
  ]);
  if (timer) clearTimeout(timer);
  return { code, stdout, stderr, timedOut };
}

/** Runs argv and throws an OperationError (`what` failed, with stderr's tail) unless it exits 0. */
export async function runOk(argv: string[], what: string, opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    const why = r.timedOut ? `timed out after ${Math.round((opts.timeoutMs ?? 0) / 1000)}s` : `exit ${r.code}`;
    throw new OperationError(`${what} failed (${why}): ${argv.join(" ")}${tailOf(r.stderr || r.stdout)}`);
  }
  return r;
}

/** The last `lines` lines of a text, indented, for an error message; "" when empty. */
export function tailOf(text: string, lines = 20): string {
  const t = text.trimEnd();
  if (!t) return "";
  return "\n" + t.split("\n").slice(-lines).map((l) => `    ${l}`).join("\n");
}
