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

/**
 * The systemd-run argv of cfg.release for release `releaseId`; null without a release
 * phase. As in ExecStart= (src/render/command.ts): a plain line runs directly, systemd
 * expanding its `$NAME`/`${NAME}` from the unit's environment (the env file) when it starts
 * it; any other line runs as `/bin/bash -c LINE`, bash expanding its variables.
 */
export function planReleasePhase(cfg: ResolvedConfig, releaseId: string, host: string): ReleasePhase | null {
  if (!cfg.release) return null;
  const where = "processes.release";
  const dir = layout(cfg.app).release(releaseId);
  const run = commandRun(cfg, cfg.release.command, where);
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
    `RuntimeMaxSec=${systemdSpan(cfg.release.timeoutSec)}`,
    "KillMode=control-group",
    "TimeoutStopSec=10s",
  ];
  return {
    host,
    command: cfg.release.command,
    timeoutSec: cfg.release.timeoutSec,
    argv: [
      "systemd-run",
      "--wait",
      "--pipe",
      "--collect",
      `--unit=${releaseUnitName(cfg.app, releaseId)}`,
      `--description=${cfg.app} release phase of ${releaseId}`,
      ...properties.flatMap((p) => ["-p", p]),
      "--",
      ...command.map((word) => word.replace(/\$/g, "$$$$")),
      ...("args" in run ? run.args.map(systemdVariables) : []),
    ],
  };
}
