/** `qdeploy secrets ...`: wires the secret store's commands to deploy.toml and the terminal. */
import { loadConfig, loadConfigOrThrow } from "../config/load.ts";
import { runSecretsCommand } from "../secrets/commands.ts";
import { readHiddenLine } from "../secrets/prompt.ts";
import type { Ctx } from "./context.ts";

/** Runs a secrets subcommand (args after "secrets"); returns the exit status. */
export async function secrets(ctx: Ctx, args: string[]): Promise<number> {
  const { raw } = await loadConfig(ctx.configFile);
  return runSecretsCommand(
    args,
    { load: (env) => loadConfigOrThrow(ctx.configFile, env), environments: Object.keys(raw.environments ?? {}) },
    {
      stdin: () => Bun.stdin.text(),
      // On a terminal a value is typed at a prompt that does not echo it.
      promptHidden: process.stdin.isTTY ? (prompt) => readHiddenLine(prompt, { input: process.stdin, output: process.stderr }) : undefined,
      out: (line) => ctx.out.result(line),
      err: (line) => process.stderr.write(`${line}\n`),
      environ: process.env,
    },
    { identityFile: ctx.identityFile },
  );
}
