/**
 * `maintenance on|off|status`: Caddy answers the app's domains with a 503 page while the page
 * file exists on the host (the site's `@maintenance file` matcher, src/render/caddy.ts).
 * The page lives outside the releases, so a push, rollback or restart keeps it; turning it
 * on or off is writing or removing one file, with no Caddy reload. Facts first (each host's
 * state and whether its live site has the switch), then pure plans, then one batch a host.
 */
import { OperationError, UsageError } from "../errors.ts";
import { hostProcesses } from "../plan/fleet.ts";
import { layout } from "../server-layout.ts";
import type { Step } from "../plan/steps.ts";
import { MAINTENANCE_MATCHER } from "../render/caddy.ts";
import { runBatch } from "../remote/run-plan.ts";
import type { OpContext } from "./context.ts";
import { type HostFilter, selectHosts, withConnections } from "./sessions.ts";

/** One host's maintenance mode, as `maintenance status` reports it. */
export interface MaintenanceState {
  host: string;
  /** "on" while the page is on the host (Caddy serves it, given a site that has the switch). */
  state: "on" | "off";
  /** When it was turned on (the page's mtime, UTC); null when off. */
  since: string | null;
  /** The app's live Caddy site: "ready" (has the switch), "old" (written by a qdeploy without it), "none" (nothing pushed). */
  site: "ready" | "old" | "none";
}

/** The largest page `on` takes: it travels inside the batch script and is served for every request. */
export const MAX_PAGE_BYTES = 512 * 1024;

/** Reads the page, the site and the marker; prints `maintenance=on TIME|off` and `site=ready|old|none`. */
const STATUS_SCRIPT = [
  'if [ -f "$1" ]; then printf "maintenance=on %s\\n" "$(date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ)"; else echo maintenance=off; fi',
  'if [ ! -f "$2" ]; then echo site=none; elif grep -qF -- "$3" "$2"; then echo site=ready; else echo site=old; fi',
].join("\n");

/** The argv that reports one host's maintenance state (parseMaintenanceStatus reads its output). */
export function maintenanceStatusArgv(app: string): string[] {
  const l = layout(app);
  return ["sh", "-c", STATUS_SCRIPT, "sh", l.maintenancePage, l.caddySite, MAINTENANCE_MATCHER];
}

/** maintenanceStatusArgv's output as data. */
export function parseMaintenanceStatus(host: string, text: string): MaintenanceState {
  const s: MaintenanceState = { host, state: "off", since: null, site: "none" };
  for (const line of text.split("\n")) {
    const on = /^maintenance=on (\S+)$/.exec(line);
    if (on) Object.assign(s, { state: "on", since: on[1] });
    const site = /^site=(ready|old|none)$/.exec(line);
    if (site) s.site = site[1] as MaintenanceState["site"];
  }
  return s;
}

/** An audit.log line (the format switch.sh writes: `TIME text`), appended by the host's clock. */
function auditStep(app: string, text: string): Step {
  return {
    kind: "run",
    argv: ["sh", "-c", 'printf "%s %s\\n" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$2" >> "$1"', "sh", layout(app).audit, text.replace(/[\r\n]+/g, " ")],
    why: "the audit log",
  };
}

/**
 * Turning maintenance on: the folder Caddy reads (setgid group caddy, so the page written
 * into it is caddy's group from the start and never unreadable to it), then the page, 0640,
 * by temp file and rename: it appears whole or not at all.
 */
export function planMaintenanceOn(app: string, page: string, who: string, custom: boolean): Step[] {
  const l = layout(app);
  return [
    { kind: "run", argv: ["install", "-d", "-m", "2750", "-o", "root", "-g", "caddy", l.maintenance], why: "the folder Caddy reads the maintenance page from" },
    { kind: "write", path: l.maintenancePage, content: page, mode: 0o640, why: "the maintenance page: while it exists Caddy answers 503 with it" },
    auditStep(app, `maintenance on by ${who}${custom ? " (custom page)" : ""}`),
  ];
}

/** Turning maintenance off: the page goes, and Caddy proxies to the app again at once. */
export function planMaintenanceOff(app: string, who: string): Step[] {
  return [
    { kind: "run", argv: ["rm", "-f", "--", layout(app).maintenancePage], why: "remove the maintenance page: traffic goes to the app again" },
    auditStep(app, `maintenance off by ${who}`),
  ];
}

/**
 * Why `on` must not run on these hosts (every host's reason, before anything changes), or
 * null: a host whose live site lacks the switch would keep serving the app while
 * qdeploy said it is in maintenance.
 */
export function refuseMaintenanceOn(app: string, states: MaintenanceState[]): string | null {
  const none = states.filter((s) => s.site === "none").map((s) => s.host);
  const old = states.filter((s) => s.site === "old").map((s) => s.host);
  const why: string[] = [];
  if (none.length) why.push(`${none.join(", ")}: no Caddy site of ${app} yet (push first)`);
  if (old.length) why.push(`${old.join(", ")}: the live Caddy site of ${app} was written by a qdeploy without maintenance mode (push once with this one, then turn it on)`);
  return why.length ? `maintenance mode cannot be turned on: ${why.join("; ")}` : null;
}

/** The page as `on` sends it: text HTML, no NUL (the batch script reads it with bash), at most MAX_PAGE_BYTES. */
export function checkPage(page: string, name: string): void {
  const bytes = Buffer.byteLength(page);
  if (bytes === 0) throw new UsageError(`${name} is empty`);
  if (bytes > MAX_PAGE_BYTES) throw new UsageError(`${name} is ${bytes} bytes; a maintenance page may be at most ${MAX_PAGE_BYTES} (inline its styles and images, or link them from another site)`);
  if (page.includes("\0")) throw new UsageError(`${name} holds NUL bytes: the maintenance page must be a text (HTML) file`);
}

/**
 * `qdeploy maintenance on|off|status ENV`: on the environment's web hosts (or those the
 * filter keeps). Returns each host's state afterwards, in deploy.toml's order.
 * `page` (for on) is the HTML to serve, `custom` whether the user gave it.
 */
export async function maintenance(
  op: OpContext,
  action: "on" | "off" | "status",
  o: { page: string; custom: boolean },
  filter: HostFilter = {},
): Promise<{ hosts: MaintenanceState[] }> {
  const cfg = op.cfg;
  if (!cfg.web) throw new UsageError(`${cfg.app} has no web process in ${cfg.env}: maintenance mode is the 503 page Caddy serves for its domains`);
  const hosts = selectHosts(cfg, filter).filter((h) => hostProcesses(cfg, h).includes("web"));
  if (!hosts.length) throw new UsageError(`no host of ${cfg.env} runs the web process${filter.hosts?.length || filter.role ? " among the hosts chosen" : ""}`);
  if (action === "on") checkPage(o.page, "the maintenance page");
  const argv = maintenanceStatusArgv(cfg.app);
  return withConnections(hosts, op.connect, async (connections) => {
    const read = () => Promise.all(connections.map(async ({ host, remote }) => parseMaintenanceStatus(host.label, (await remote.exec(argv)).stdout)));
    const before = await read();
    if (action === "status") return { hosts: before };
    if (action === "on") {
      const why = refuseMaintenanceOn(cfg.app, before);
      if (why) throw new OperationError(why);
    }
    const steps = action === "on" ? planMaintenanceOn(cfg.app, o.page, op.who, o.custom) : planMaintenanceOff(cfg.app, op.who);
    const settled = await Promise.allSettled(connections.map(({ remote }) => runBatch(remote, steps, op.events)));
    const failed = settled.flatMap((s, i) => (s.status === "rejected" ? [(s.reason as Error).message] : []));
    const after = await read();
    if (failed.length) {
      const now = after.map((s) => `${s.host} ${s.state}`).join(", ");
      throw new OperationError(`maintenance ${action} failed on ${failed.length} of ${connections.length} host(s):\n  ${failed.join("\n  ")}\n  now: ${now}`);
    }
    return { hosts: after };
  });
}
