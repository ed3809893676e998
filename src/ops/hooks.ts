/**
 * [hooks]: commands on the deploying machine around a push or rollback, as Kamal's hooks.
 * pre_build and pre_deploy stop the deploy when they fail (before anything on the hosts
 * changed); post_deploy, post_rollback and on_failure are reported and change nothing: what
 * happened on the hosts happened. Each runs as `bash -c COMMAND` in deploy.toml's folder with
 * the QDEPLOY_* variables (hookEnv), its output as `hook NAME | line` events (redacted at the
 * edge like every event), for at most hooks.timeout. Only the CLI runs them (src/commands/
 * deploy.ts): `qdeploy serve` deploys commits whose deploy.toml no one on its host chose to
 * run, so it runs none.
 */
import type { HookName, ResolvedConfig } from "../config/types.ts";
import { OperationError } from "../errors.ts";
import type { EventSink } from "../events.ts";
import { lineSplitter } from "../util/lines.ts";
import { systemdSpan } from "../util/duration.ts";

/** What a hook is told about the deploy it runs around. */
export interface HookFacts {
  action: "push" | "rollback" | "promote";
  /** The release id (not known yet to pre_build). */
  release?: string;
  hosts: string[];
  /** The commit deployed (a push's build; a rollback's release record), when known. */
  commit?: string | null;
  outcome?: "succeeded" | "failed";
  /** on_failure: the error's first line. */
  error?: string;
}

/** A pre_* hook that failed: the deploy stops, nothing on the hosts changed. */
export class HookFailed extends OperationError {}

/** How long a hook gets after SIGTERM before SIGKILL. */
const KILL_AFTER_MS = 5000;

/** The QDEPLOY_* variables a hook runs with. Pure. */
export function hookEnv(cfg: Pick<ResolvedConfig, "app" | "env">, who: string, f: HookFacts): Record<string, string> {
  return {
    QDEPLOY_APP: cfg.app,
    QDEPLOY_ENV: cfg.env,
    QDEPLOY_ACTION: f.action,
    QDEPLOY_RELEASE: f.release ?? "",
    QDEPLOY_HOSTS: f.hosts.join(","),
    QDEPLOY_WHO: who,
    QDEPLOY_COMMIT: f.commit ?? "",
    QDEPLOY_OUTCOME: f.outcome ?? "",
    QDEPLOY_ERROR: f.error ?? "",
  };
}

export interface HookRunner {
  /** Runs hook `name` if deploy.toml gives one; a pre_* hook's failure throws HookFailed. */
  run(name: HookName, f: HookFacts): Promise<void>;
}

/** The hooks of `cfg` (none when `enabled` is false: --no-hooks), reporting to `events`. */
export function hookRunner(cfg: Pick<ResolvedConfig, "app" | "env" | "root" | "hooks">, who: string, events: EventSink, enabled = true): HookRunner {
  return {
    async run(name, f) {
      const command = enabled ? cfg.hooks.commands[name] : undefined;
      if (command === undefined) return;
      const stops = name === "pre_build" || name === "pre_deploy";
      events({ type: "info", line: `hook ${name}: ${command}` });
      const t = performance.now();
      const r = await runCommand(command, cfg.root, hookEnv(cfg, who, f), cfg.hooks.timeoutSec, (line) => events({ type: "info", line: `hook ${name} | ${line}` }));
      const secs = ((performance.now() - t) / 1000).toFixed(1);
      if (r.code === 0) {
        events({ type: "info", line: `hook ${name} done (${secs}s)` });
        return;
      }
      const how = r.timedOut ? `ran longer than ${systemdSpan(cfg.hooks.timeoutSec)} (hooks.timeout) and was stopped` : `exited with status ${r.code}`;
      if (stops) throw new HookFailed(`hook ${name} (${command}) ${how}: the ${f.action} stopped before any release was written`);
      events({ type: "error", line: `hook ${name} (${command}) ${how} after ${secs}s; the ${f.action} itself ${f.outcome ?? "ended"}` });
    },
  };
}

/** `bash -c command` in `cwd` with `vars` added to this process's environment; each output line to `line`. */
async function runCommand(command: string, cwd: string, vars: Record<string, string>, timeoutSec: number, line: (l: string) => void): Promise<{ code: number; timedOut: boolean }> {
  const proc = Bun.spawn(["bash", "-c", command], { cwd, env: { ...process.env, ...vars }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let timedOut = false;
  const term = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGTERM");
  }, timeoutSec * 1000);
  const kill = setTimeout(() => proc.kill("SIGKILL"), timeoutSec * 1000 + KILL_AFTER_MS);
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const lines = lineSplitter(line);
    const decoder = new TextDecoder();
    for await (const chunk of stream) lines.push(decoder.decode(chunk, { stream: true }));
    lines.flush();
  };
  const output = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  try {
    const code = await proc.exited;
    // A child the command left in the background may hold its output open: not waited for
    // beyond a second (a timer cleared, or it would keep qdeploy from exiting for that second).
    let grace: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([output, new Promise((res) => (grace = setTimeout(res, 1000)))]);
    clearTimeout(grace);
    return { code: timedOut && code === 0 ? 1 : code, timedOut };
  } finally {
    clearTimeout(term);
    clearTimeout(kill);
  }
}
