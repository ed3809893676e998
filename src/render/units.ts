/**
 * The systemd units a release installs (docs/server-layout.md), rendered from the templates
 * in systemd/. Pure: (checked config) -> text. Names and paths come from src/server-layout.ts.
 * `check` refused what would not render (src/config/rules.ts); what is asserted here still
 * (names, one-line values) is what keeps a value from injecting unit-file syntax.
 */
import type { ResolvedResources } from "../config/resources.ts";
import type { ResolvedAddon, ResolvedConfig } from "../config/types.ts";
import { layout, processPlace, unitNames, WATCHDOG_INTERVAL_SEC } from "../server-layout.ts";
import { switchCommands } from "../server-commands.ts";
import { renderTemplate } from "./template.ts";
import { systemdSpan } from "../util/duration.ts";
import { BASH, planCommand, programPath, systemdVariables, type CommandRun, type Word } from "./command.ts";
import { InternalError, invariant } from "../errors.ts";
import webTemplate from "../../systemd/web@.service" with { type: "text" };
import processTemplate from "../../systemd/process@.service" with { type: "text" };
import restartServiceTemplate from "../../systemd/restart.service" with { type: "text" };
import restartTimerTemplate from "../../systemd/restart.timer" with { type: "text" };
import jobServiceTemplate from "../../systemd/job.service" with { type: "text" };
import jobTimerTemplate from "../../systemd/job.timer" with { type: "text" };
import watchdogServiceTemplate from "../../systemd/watchdog.service" with { type: "text" };
import watchdogTimerTemplate from "../../systemd/watchdog.timer" with { type: "text" };
import usageServiceTemplate from "../../systemd/usage.service" with { type: "text" };
import usageTimerTemplate from "../../systemd/usage.timer" with { type: "text" };
import addonBackupServiceTemplate from "../../systemd/addon-backup.service" with { type: "text" };
import addonBackupTimerTemplate from "../../systemd/addon-backup.timer" with { type: "text" };

type Job = ResolvedConfig["jobs"][number];

/** Stop timeout for units without a web drain of their own: Heroku's 30 s. */
const DEFAULT_DRAIN_SEC = 30;

/**
 * The [Service] lines for these limits, each ending in a newline; "" without any, so a unit
 * without [resources] is what it was before. Memory: killed over MemoryMax, no swap (the
 * limit is the process's memory, not memory plus swap), and GOMEMLIMIT at 90 % of it, so Go's
 * garbage collector works harder as the heap nears the limit (an env file's GOMEMLIMIT
 * wins: systemd reads EnvironmentFile= after Environment=). No MemoryHigh: without swap the
 * kernel can only throttle a process over it, which stalls a leaking web process for minutes
 * where a kill and a restart take a second.
 */
export function limitLines(proc: string, r: ResolvedResources | undefined): string {
  if (!r) return "";
  const lines: string[] = [];
  if (r.memoryBytes !== null) {
    lines.push(`MemoryMax=${r.memoryBytes}`, "MemorySwapMax=0", `Environment=GOMEMLIMIT=${Math.floor(r.memoryBytes * 0.9)}`);
  }
  if (r.cpuWeight !== null) lines.push(`CPUWeight=${r.cpuWeight}`);
  // systemd takes the quota as a percentage of one CPU, whole or with up to two decimals.
  if (r.cpu !== null) lines.push(`CPUQuota=${Number((r.cpu * 100).toFixed(2))}%`);
  if (r.tasks !== null) lines.push(`TasksMax=${r.tasks}`);
  if (r.nofile !== null) lines.push(`LimitNOFILE=${r.nofile}`);
  if (!lines.length) return "";
  return `# [resources.${proc}]${r.size ? `: ${r.size}` : ""}, per instance.\n${lines.join("\n")}\n`;
}

/** `APP-web@.service`: instance %i is the slot's loopback port; runs slots/%i/bin/BINARY. */
export function renderWebUnit(cfg: ResolvedConfig): string {
  const command = cfg.processes.web;
  invariant(command !== undefined, `${cfg.app}: no "web" process to render a web unit for`);
  const slot = `${layout(cfg.app).slots}/%i`;
  return renderTemplate(
    webTemplate,
    {
      app: checkApp(cfg.app),
      execStart: renderExecStart(cfg, command, slot, "processes.web"),
      envFile: `${slot}/env`,
      ...processPlace(slot),
      drain: drainSpan(cfg),
      limits: limitLines("web", cfg.resources.web),
    },
    "systemd/web@.service",
  );
}

/** `APP-PROC@.service` for a non-web process: instance %i is 1..scale; runs current/. */
export function renderProcessUnit(cfg: ResolvedConfig, proc: string): string {
  const command = cfg.processes[proc];
  invariant(proc !== "web", `${cfg.app}: the web process has its own unit (renderWebUnit)`);
  invariant(command !== undefined, `${cfg.app}: no process "${proc}"`);
  const current = layout(cfg.app).current;
  return renderTemplate(
    processTemplate,
    {
      app: checkApp(cfg.app),
      proc: checkUnitPart(proc, `processes.${proc}`),
      current,
      execStart: renderExecStart(cfg, command, current, `processes.${proc}`),
      envFile: `${current}/env`,
      ...processPlace(current),
      drain: drainSpan(cfg),
      limits: limitLines(proc, cfg.resources[proc]),
    },
    "systemd/process@.service",
  );
}

/**
 * The process units' identity and sandbox (systemd/process@.service from DynamicUser= on,
 * for app `app`), one `Key=value` each: what the release phase (src/plan/release-phase.ts)
 * and switch.sh's `exec` give their transient units, so they run as the app's processes do.
 */
export function processHardening(app: string): string[] {
  const service = processTemplate.slice(processTemplate.indexOf("\nDynamicUser="), processTemplate.indexOf("\n[Install]"));
  return service
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.replaceAll("{{app}}", checkApp(app)));
}

/**
 * `APP-restart.{service,timer}`: the scheduled zero-downtime restart; null without [restart].
 * A host's stagger (restart.offsetSec, src/plan/fleet.ts) is a sleep before the switch: the
 * timers all fire at `at`, each host waits its offset, then its own random delay is the
 * timer's. Type=oneshot has no start timeout by default, so the sleep is not cut short.
 */
export function renderRestartUnits(cfg: ResolvedConfig): { service: string; timer: string } | null {
  if (!cfg.restart) return null;
  const app = checkApp(cfg.app);
  const offset = cfg.restart.offsetSec ?? 0;
  invariant(Number.isFinite(offset) && offset >= 0, `restart.offsetSec: ${offset} is not a number of seconds`);
  return {
    service: renderTemplate(
      restartServiceTemplate,
      {
        app,
        // A line of its own or nothing, so an unstaggered unit is exactly as before. Whole
        // seconds, rounded up: the windows stay apart (spacing >= 60 s, jitter = spacing / 2).
        startDelay: offset > 0 ? `ExecStartPre=/bin/sleep ${Math.ceil(Number(offset.toFixed(6)))}\n` : "",
        restart: switchCommands(app).timerRestart,
      },
      "systemd/restart.service",
    ),
    timer: renderTemplate(
      restartTimerTemplate,
      { app, at: unitValue(cfg.restart.at, "restart.at"), jitter: span(cfg.restart.jitterSec, "restart.jitter") },
      "systemd/restart.timer",
    ),
  };
}

/**
 * `APP-watchdog.{service,timer}`: web.watchdog's look at the live web slot every
 * WATCHDOG_INTERVAL_SEC, restarting it once it has hung for the window; null when it is off
 * (or the environment runs no web process).
 */
export function renderWatchdogUnits(cfg: ResolvedConfig): { service: string; timer: string } | null {
  if (!cfg.web || cfg.web.watchdogSec <= 0) return null;
  const app = checkApp(cfg.app);
  const interval = span(WATCHDOG_INTERVAL_SEC, "web.watchdog");
  return {
    service: renderTemplate(
      watchdogServiceTemplate,
      { app, interval, window: span(cfg.web.watchdogSec, "web.watchdog"), watchdog: switchCommands(app).watchdog },
      "systemd/watchdog.service",
    ),
    timer: renderTemplate(watchdogTimerTemplate, { app, interval }, "systemd/watchdog.timer"),
  };
}

/** `APP-usage.{service,timer}`: a sample of the running services' memory and CPU every minute (the dashboard's charts). */
export function renderUsageUnits(cfg: ResolvedConfig): { service: string; timer: string } {
  const app = checkApp(cfg.app);
  return {
    service: renderTemplate(usageServiceTemplate, { app, file: layout(app).usage, sample: switchCommands(app).sample }, "systemd/usage.service"),
    timer: renderTemplate(usageTimerTemplate, { app }, "systemd/usage.timer"),
  };
}

/** `APP-job-NAME.{service,timer}`: one scheduled run of the job's command on the live release. */
export function renderJobUnits(cfg: ResolvedConfig, job: Job): { service: string; timer: string } {
  const app = checkApp(cfg.app);
  const name = checkUnitPart(job.name, `jobs.${job.name}.name`);
  const current = layout(app).current;
  return {
    service: renderTemplate(
      jobServiceTemplate,
      {
        app,
        job: name,
        current,
        execStart: renderExecStart(cfg, job.command, current, `jobs.${name}.command`),
        envFile: `${current}/env`,
        ...processPlace(current),
        drain: drainSpan(cfg),
        timeout: span(Math.max(job.timeoutSec, 0.001), `jobs.${name}.timeout`),
      },
      "systemd/job.service",
    ),
    timer: renderTemplate(
      jobTimerTemplate,
      { app, job: name, at: unitValue(job.at, `jobs.${name}.at`), jitter: span(job.jitterSec, `jobs.${name}.jitter`) },
      "systemd/job.timer",
    ),
  };
}

/** `APP-addon-NAME-backup.{service,timer}`: the add-on's backups (server/addon.sh backup), outside any release. */
export function renderAddonBackupUnits(app: string, addon: ResolvedAddon): { service: string; timer: string } {
  const names = { app: checkApp(app), addon: checkUnitPart(addon.name, `addons.${addon.name}`) };
  const service = { ...names, keep: String(addon.backup.keep), script: layout(app).addonScript, backups: layout(app).addonBackups(addon.name) };
  return {
    service: renderTemplate(addonBackupServiceTemplate, service, "systemd/addon-backup.service"),
    timer: renderTemplate(addonBackupTimerTemplate, { ...names, at: unitValue(addon.backup.at, `addons.${addon.name}.backup.at`) }, "systemd/addon-backup.timer"),
  };
}

/** Every unit file a release installs: file name -> content. */
export function renderUnits(cfg: ResolvedConfig): Record<string, string> {
  const units: Record<string, string> = {};
  for (const proc of Object.keys(cfg.processes).sort()) {
    units[unitNames.template(cfg.app, proc)] = proc === "web" ? renderWebUnit(cfg) : renderProcessUnit(cfg, proc);
  }
  const restart = renderRestartUnits(cfg);
  if (restart) {
    units[unitNames.restartService(cfg.app)] = restart.service;
    units[unitNames.restartTimer(cfg.app)] = restart.timer;
  }
  for (const job of cfg.jobs) {
    const { service, timer } = renderJobUnits(cfg, job);
    units[unitNames.jobService(cfg.app, job.name)] = service;
    units[unitNames.jobTimer(cfg.app, job.name)] = timer;
  }
  const watchdog = renderWatchdogUnits(cfg);
  if (watchdog) {
    units[unitNames.watchdogService(cfg.app)] = watchdog.service;
    units[unitNames.watchdogTimer(cfg.app)] = watchdog.timer;
  }
  const usage = renderUsageUnits(cfg);
  units[unitNames.usageService(cfg.app)] = usage.service;
  units[unitNames.usageTimer(cfg.app)] = usage.timer;
  return units;
}

/**
 * A process command as systemd's ExecStart= value (src/render/command.ts reads it). A plain
 * line runs directly: a first word naming a binary of the release (NAME, bin/NAME or
 * ./bin/NAME) becomes its absolute path, another relative path the app's file; the words
 * are quoted for systemd with `%` doubled; `$NAME`/`${NAME}` stay variables systemd expands
 * from the unit's Environment=/EnvironmentFile= when it starts the process, and every other
 * `$` is doubled so it reaches the app literally. Any other line runs as `/bin/bash -c LINE`
 * with its every `$` doubled, so bash expands them, as on Heroku.
 */
export function renderExecStart(cfg: ResolvedConfig, command: string, releaseDir: string, where = "command"): string {
  const run = commandRun(cfg, command, where);
  if ("shell" in run) return [BASH, "-c", quoteExecWord(run.shell)].join(" ");
  const { program } = run;
  // The release dir may hold a specifier (slots/%i): it goes first, unescaped.
  const exec =
    "binary" in program || "appFile" in program
      ? quoteExecText(programPath(program, "").replace(/\$/g, "$$$$"), releaseDir)
      : quoteExecWord(programPath(program, releaseDir));
  return [exec, ...run.args.map(quoteExecArg)].join(" ");
}

/**
 * How a checked command runs (src/render/command.ts planCommand) with the release's programs;
 * a command it cannot read is a bug, as `check` reads every command the same way first.
 */
export function commandRun(cfg: ResolvedConfig, command: string, where: string): CommandRun {
  try {
    return planCommand(command, cfg.build.binaries ?? [cfg.build.binary], where);
  } catch (e) {
    throw new InternalError((e as Error).message);
  }
}

/** One argument in systemd's ExecStart= syntax, taken literally (no specifiers, no $VARs). */
export function quoteExecWord(word: string): string {
  return quoteExecText(word.replace(/\$/g, "$$$$"));
}

/** A parsed word: literal parts quoted, its variables left for systemd to expand. */
function quoteExecArg(word: Word): string {
  return quoteExecText(systemdVariables(word));
}

/**
 * Text already in systemd's variable syntax, quoted for ExecStart= with `%` doubled; `raw`
 * (a release dir, which may hold a specifier such as %i) goes before it unescaped.
 */
function quoteExecText(text: string, raw = ""): string {
  invariant(!text.includes("\0"), "a command argument cannot contain a NUL byte");
  const plain = raw + text !== "" && /^[A-Za-z0-9_\/.,:=@+$-]*$/.test(text);
  const escaped = text
    .replace(/[\\"\x00-\x1f\x7f]/g, (c) => C_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)
    .replace(/%/g, "%%");
  return plain ? `${raw}${escaped}` : `"${raw}${escaped}"`;
}

const C_ESCAPES: Record<string, string> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r" };

/** TimeoutStopSec=0 would mean "never SIGKILL", so a zero drain still gets 1 s. */
function drainSpan(cfg: ResolvedConfig): string {
  return span(Math.max(cfg.web?.drainSec ?? DEFAULT_DRAIN_SEC, 1), "web.drain");
}

/** A duration key's seconds as a unit file's time span ("30s", "1500ms"). */
function span(sec: number, where: string): string {
  try {
    return systemdSpan(sec);
  } catch (e) {
    throw new InternalError(`${where}: ${(e as Error).message}`);
  }
}

/** The app's name, part of every unit's name (the schema's APP_PATTERN). */
function checkApp(app: string): string {
  invariant(/^[a-z][a-z0-9-]*$/.test(app), `app: "${app}" must match [a-z][a-z0-9-]*`);
  return app;
}

/** Process and job names become part of unit names (the schema's patterns). */
function checkUnitPart(name: string, where: string): string {
  invariant(/^[A-Za-z0-9_-]+$/.test(name), `${where}: "${name}" may only use letters, digits, _ and -`);
  return name;
}

/** A free-text value on one unit line (OnCalendar=): one line (src/config/rules.ts calendarsValid), `%` escaped. */
function unitValue(value: string, where: string): string {
  invariant(!/[\x00-\x1f\x7f]/.test(value) && value.trim() !== "", `${where}: ${JSON.stringify(value)} is not a one-line value`);
  return value.replace(/%/g, "%%");
}
