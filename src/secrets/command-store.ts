/**
 * store = "command": secrets.command is an argv whose standard output is KEY=VALUE lines
 * (dotenv, read as the npm dotenv package reads it), so `sops -d`, `op inject`, `vault kv get` or `aws ssm` work without
 * qdeploy knowing them. Run without a shell. Its stdout holds secrets and is never shown;
 * on failure only its stderr's tail is.
 */
import { ConfigError, OperationError } from "../errors.ts";
import { parseDotenv } from "./dotenv.ts";
import { childEnviron } from "./identity.ts";
import { redact } from "./redact.ts";
import type { SecretStore } from "./store.ts";

const STDERR_TAIL_LINES = 15;

/** Runs `argv` in `cwd` with `environ` (less QDEPLOY_AGE_KEY) as its environment and parses what it prints. */
export function commandStore(argv: string[], cwd: string, environ: Record<string, string | undefined>): SecretStore {
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
        proc = Bun.spawn(argv, { cwd, env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      } catch (e) {
        throw new OperationError(
          `secrets.command: cannot run "${name}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): ` +
            `is it installed and on PATH?`,
        );
      }
      const [stdout, stderr, code] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ]);
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
