/**
 * [logs] drain: the app's own rsyslog instance on each host and its config (setup installs
 * them: src/plan/setup.ts planLogDrain). Pure: (checked config) -> text.
 */
import type { LogDrain } from "../config/log-drain.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { layout, unitNames, unitPatterns } from "../server-layout.ts";
import { renderTemplate } from "./template.ts";
import confTemplate from "../../rsyslog/drain.conf" with { type: "text" };
import unitTemplate from "../../systemd/logdrain.service" with { type: "text" };

/** The drain's files on a host: the unit and rsyslog's config, by path. */
export function renderLogDrain(cfg: ResolvedConfig, drain: LogDrain): Record<string, string> {
  const l = layout(cfg.app);
  const drainName = `${drain.host}:${drain.port}`;
  const conf = renderTemplate(confTemplate, { app: cfg.app, dir: l.logDrain, drain: drainName, host: drain.host, port: String(drain.port), units: unitRegex(cfg) }, "rsyslog/drain.conf");
  const unit = renderTemplate(unitTemplate, { app: cfg.app, drain: drainName, conf: l.logDrainConf, dir: l.logDrain }, "systemd/logdrain.service");
  return { [l.logDrainConf]: conf, [`${l.unitDir}/${unitNames.logDrain(cfg.app)}`]: unit };
}

/**
 * A POSIX ERE matching exactly the services whose lines go to the drain: the processes', the
 * jobs', the restart's and the watchdog's (what `qdeploy logs` shows), and the release phase's.
 * No backslash: rsyslog's strings would need it doubled; `[.]` says the same.
 */
export function unitRegex(cfg: ResolvedConfig): string {
  const services = unitPatterns(cfg.app, Object.keys(cfg.processes), cfg.jobs.map((j) => j.name), !!cfg.restart, (cfg.web?.watchdogSec ?? 0) > 0)
    .filter((p) => p.endsWith(".service"))
    .concat(`${cfg.app}-release-*.service`);
  return `^(${services.map((p) => p.replaceAll(".", "[.]").replaceAll("*", "[^/]*")).join("|")})$`;
}
