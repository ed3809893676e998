#!/usr/bin/env bun
/**
 * qdeploy's entry point: parse the command line against the command table (src/cli/), run one
 * command, and turn every error into one clear message and an exit status (0 done, 1 failed,
 * 2 bad usage or config); under --json the error is also `{ok:false,error}` on stdout.
 * Everything it prints, the error included, is redacted with the secret values the command
 * read (ctx.redactor): the one place a secret is kept from the terminal.
 */
import { errorBody, QdeployError } from "./errors.ts";
import { createOutput, type Output, redactingOutput, redactingStrings } from "./output.ts";
import { Redactor } from "./secrets/redact.ts";
import type { Ctx } from "./commands/context.ts";
import { parseCommandLine } from "./cli/parse.ts";

/** Runs one command line; returns the exit status. `out` replaces the terminal's output (tests). */
export async function main(argv: string[], out?: Output): Promise<number> {
  // Before parsing, so a usage error is reported the way the command line asked for.
  const raw = { verbose: argv.includes("--verbose") || argv.includes("-v"), json: argv.includes("--json") };
  const redactor = new Redactor();
  let o = redactingOutput(out ?? createOutput({ verbose: raw.verbose, json: raw.json }), redactor.redact);
  try {
    const parsed = parseCommandLine(argv);
    const g = parsed.globals;
    // --no-color beats FORCE_COLOR; NO_COLOR also reaches the programs qdeploy runs.
    if (g.noColor) process.env.NO_COLOR = "1";
    o = redactingOutput(out ?? createOutput({ verbose: g.verbose, quiet: g.quiet, json: g.json, ...(g.noColor && { color: false, errColor: false }) }), redactor.redact);
    const ctx: Ctx = { out: o, redactor, configFile: g.config ?? "deploy.toml", lockWaitSec: 60 };
    if (parsed.kind === "help") {
      const { helpFor } = await import("./cli/help.ts");
      process.stdout.write(helpFor(parsed.words));
      return 0;
    }
    if (parsed.kind === "version") {
      const { printVersion } = await import("./cli/version.ts");
      return printVersion(ctx);
    }
    const { flags } = parsed.inv;
    if (typeof flags.identity === "string") ctx.identityFile = flags.identity;
    if (typeof flags["lock-wait"] === "number") ctx.lockWaitSec = flags["lock-wait"];
    return await parsed.command.run(ctx, parsed.inv);
  } catch (e) {
    return report(e, o, raw, redactor.redact);
  }
}

/** The one place errors become output (`out` redacts its lines; the stack and JSON are redacted here). */
export function report(e: unknown, out: Output, flags: { verbose: boolean; json: boolean }, redact: (text: string) => string): number {
  const known = e instanceof QdeployError;
  const err = e instanceof Error ? e : new Error(String(e));
  const message = known || flags.verbose ? err.message : `${err.message} (run with --verbose for details)`;
  out.error(known && e.hint ? `${message}\nhint: ${e.hint}` : message);
  if (flags.verbose && err.stack) process.stderr.write(`${redact(err.stack)}\n`);
  if (flags.json) process.stdout.write(`${JSON.stringify({ ok: false, error: errorBody(e) }, redactingStrings(redact), 2)}\n`);
  return known ? e.exitCode : 1;
}

if (import.meta.main) {
  // The build sandbox's entry (src/serve/sandboxed-build.ts), not a command: no config, no flags.
  if (process.argv[2] === "__build-worker") {
    const { buildWorkerMain } = await import("./serve/build-worker.ts");
    process.exitCode = await buildWorkerMain();
  } else if (process.argv[2] === "__ssh-mux") {
    // ssh.persist's daemon (src/remote/mux.ts starts it), not a command either.
    const { muxDaemonMain } = await import("./remote/mux-daemon.ts");
    await muxDaemonMain();
  } else {
    process.exitCode = await main(process.argv.slice(2));
  }
}
