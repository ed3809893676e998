/** `qdeploy secrets ...`: wires the secret store's commands to deploy.toml and the terminal. */
import { loadConfig, loadConfigOrThrow } from "../config/load.ts";
import { runSecretsCommand } from "../secrets/commands.ts";
import { readHiddenLine } from "../secrets/prompt.ts";
import type { Ctx } from "./context.ts";

/**
 * Runs a secrets subcommand (args after "secrets"); returns the exit status.
 * `json`: one JSON value on stdout (names, never values) instead of lines.
 */
export async function secrets(ctx: Ctx, args: string[], opts: { json?: boolean } = {}): Promise<number> {
  const json = Boolean(opts.json ?? ctx.out.json);
  const { raw } = await loadConfig(ctx.configFile);
  return runSecretsCommand(
    args,
    { load: (env) => loadConfigOrThrow(ctx.configFile, env), environments: Object.keys(raw.environments ?? {}) },
    {
      stdin: () => Bun.stdin.text(),
      // On a terminal a value is typed at a prompt that does not echo it.
      promptHidden: process.stdin.isTTY ? (prompt) => readHiddenLine(prompt, { input: process.stdin, output: process.stderr }) : undefined,
      out: (line) => ctx.out.result(line),
      // ctx.out prints data only when it was made for --json; the flag may reach here alone.
      data: (value) => (ctx.out.json ? ctx.out.data(value) : process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)),
      err: (line) => process.stderr.write(`${line}\n`),
      environ: process.env,
    },
    { identityFile: ctx.identityFile, json },
  );
}
