/**
 * store = "command": secrets.command is an argv whose standard output is KEY=VALUE lines
 * (dotenv, read as the npm dotenv package reads it), so `sops -d`, `op inject`, `vault kv get` or `aws ssm` work without
 * qdeploy knowing them. Run without a shell. Its stdout holds secrets and is never shown;
 * on failure only its stderr's tail is. With a timeout (qdeploy serve's webhook check) a command
 * that hangs (a vault that does not answer) is killed and is an error.
 */
import { ConfigError, OperationError } from "../errors.ts";
import { parseDotenv } from "./dotenv.ts";
import { childEnviron } from "../util/child-env.ts";
import { redact } from "./redact.ts";
import type { SecretStore } from "./store.ts";

const STDERR_TAIL_LINES = 15;

/** Runs `argv` in `cwd` with `environ` (less QDEPLOY_AGE_KEY) as its environment and parses what it prints; killed after `timeoutMs` if given. */
export function commandStore(argv: string[], cwd: string, environ: Record<string, string | undefined>, timeoutMs?: number): SecretStore {
  const name = argv[0] ?? "";
  return {
    kind: "command",
    where: `the output of secrets.command (${name})`,
    async read() {
      if (argv.length === 0 || !name) {
        throw new ConfigError([{ file: "deploy.toml", path: "secrets.command", message: 'store = "command" needs a command: an argv array such as ["sops", "-d", "secrets/prod.env"]' }]);
      }
      // The command gets qdeploy's environment (its own logins, VAULT_TOKEN...) but not qdeploy's age key.
      const env = childEnviron(environ);
      let proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
      try {
        // With a timeout, its own process group, so that the kill reaches what it started too.
        proc = Bun.spawn(argv, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: timeoutMs !== undefined });
      } catch (e) {
        throw new OperationError(
          `secrets.command: cannot run "${name}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ` +
            `is it installed and on PATH?`,
        );
      }
      const [stdout, stderr, code] = await withTimeout(
        Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]),
        timeoutMs,
        () => {
          killGroup(proc.pid);
          return new OperationError(`secrets.command (${name}) gave no answer within ${timeoutMs! / 1000} s: stopped; run it yourself to see where it waits`);
        },
      );
      const { values, problems } = parseDotenv(stdout);
      if (code !== 0) {
        // stderr should not hold secrets, but a tool may echo part of what it printed.
        const tail = redact(stderr, Object.values(values)).trimEnd().split("\n").slice(-STDERR_TAIL_LINES);
        const shown = tail.join("").trim() ? `\n  stderr:\n${tail.map((l) => `    ${l}`).join("\n")}` : " (no stderr)";
        throw new OperationError(
          `secrets.command (${name}) exited with ${proc.signalCode ?? code}: fix the command or its login, ` +
            `then run it yourself to check it prints KEY=VALUE lines${shown}`,
        );
      }
      if (problems.length) {
        throw new ConfigError(
          problems.map((p) => ({
            file: `output of secrets.command (${name})`,
            line: p.line,
            path: "",
            message: p.message.replace(/^line \d+: /, ""),
          })),
        );
      }
      return values;
    },
  };
}

/**
 * `work`, or `onTimeout()`'s error after `ms`. The race does not wait for the pipes to close:
 * a child the command started (`sh -c "vault ... &"`) may hold them open after the kill.
 */
function withTimeout<T>(work: Promise<T>, ms: number | undefined, onTimeout: () => Error): Promise<T> {
  if (ms === undefined) return work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** SIGKILL to the process group `pid` leads (spawned detached); it may be gone already. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // ESRCH: it ended meanwhile.
  }
}
