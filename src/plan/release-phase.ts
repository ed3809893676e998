/**
 * Heroku's release phase as an argv: the Procfile's `release:` command run once, on one
 * host, through `systemd-run --wait --pipe` as a transient unit with the same user,
 * StateDirectory and hardening as the app's process units and the new release's env
 * file, its output on the caller's pipes. Pure.
 */
import type { ResolvedConfig } from "../config/types.ts";
import { BASH, programPath, systemdVariables } from "../render/command.ts";
import { systemdSpan } from "../util/duration.ts";
import { commandRun, processHardening } from "../render/units.ts";
import { layout, processPlace } from "../server-layout.ts";

/** The release phase of one push: where it runs and what. */
export interface ReleasePhase {
  /** The label of the host it runs on (the fleet's duty host when the push reaches it). */
  host: string;
  /** The Procfile's command, as written (for messages). */
  command: string;
  argv: string[];
  timeoutSec: number;
  /** Whether a release was live on some host of the push (what a failure leaves serving). */
  liveBefore?: boolean;
}

/** The transient unit's name: one per release, so a leftover never blocks the next push. */
export function releaseUnitName(app: string, releaseId: string): string {
  return `${app}-release-${releaseId}.service`;
}

/** The systemd-run argv of cfg.release for release `releaseId` (transientRunArgv); null without a release phase. */
export function planReleasePhase(cfg: ResolvedConfig, releaseId: string, host: string): ReleasePhase | null {
  if (!cfg.release) return null;
  return {
    host,
    command: cfg.release.command,
    timeoutSec: cfg.release.timeoutSec,
    argv: transientRunArgv(cfg, releaseId, cfg.release.command, "processes.release", {
      unit: releaseUnitName(cfg.app, releaseId),
      description: `${cfg.app} release phase of ${releaseId}`,
      timeoutSec: cfg.release.timeoutSec,
    }),
  };
}

/**
 * [hooks] remote_post_deploy on one host once the push is live everywhere: the command run the
 * release phase's way (the app's user, sandbox and env file, in the release), at most
 * hooks.timeout; null without one.
 */
export function planRemoteHook(cfg: ResolvedConfig, releaseId: string, host: string): ReleasePhase | null {
  const command = cfg.hooks.remotePostDeploy;
  if (!command) return null;
  return {
    host,
    command,
    timeoutSec: cfg.hooks.timeoutSec,
    argv: transientRunArgv(cfg, releaseId, command, "hooks.remote_post_deploy", {
      unit: `${cfg.app}-hook-${releaseId}.service`,
      description: `${cfg.app} remote_post_deploy hook of ${releaseId}`,
      timeoutSec: cfg.hooks.timeoutSec,
    }),
  };
}

/**
 * The systemd-run argv of a command line in release `releaseId`: a transient unit with the
 * process units' user, StateDirectory and hardening, the release's env file, at most
 * `timeoutSec`, its output on the caller's pipes. As in ExecStart= (src/render/command.ts): a
 * plain line runs directly, systemd expanding its `$NAME`/`${NAME}` from the unit's
 * environment (the env file) when it starts it; any other line runs as `/bin/bash -c LINE`,
 * bash expanding its variables. `where`: the deploy.toml key, for errors.
 */
function transientRunArgv(cfg: ResolvedConfig, releaseId: string, line: string, where: string, o: { unit: string; description: string; timeoutSec: number }): string[] {
  const dir = layout(cfg.app).release(releaseId);
  const run = commandRun(cfg, line, where);
  // systemd-run takes no unit-file quoting, only the manager's variable syntax.
  const command = "shell" in run ? [BASH, "-c", run.shell] : [programPath(run.program, dir)];
  const place = processPlace(dir);
  const properties = [
    ...processHardening(cfg.app),
    `EnvironmentFile=${dir}/env`,
    `Environment=QDEPLOY_RELEASE=${releaseId}`,
    `WorkingDirectory=${place.workingDirectory}`,
    `Environment=HOME=${place.home}`,
    `Environment=PATH=${place.path}`,
    `RuntimeMaxSec=${systemdSpan(o.timeoutSec)}`,
    "KillMode=control-group",
    "TimeoutStopSec=10s",
  ];
  return [
    "systemd-run",
    "--wait",
    "--pipe",
    "--collect",
    `--unit=${o.unit}`,
    `--description=${o.description}`,
    ...properties.flatMap((p) => ["-p", p]),
    "--",
    ...command.map((word) => word.replace(/\$/g, "$$$$")),
    ...("args" in run ? run.args.map(systemdVariables) : []),
  ];
}
