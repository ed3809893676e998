/** `qdeploy maintenance on|off|status ENV [--file PAGE.html]` as the CLI prints it (the work is in src/ops/maintenance.ts). */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { UsageError } from "../errors.ts";
import { maintenance as fleetMaintenance } from "../ops/maintenance.ts";
import type { HostFilter } from "../ops/sessions.ts";
import { DEFAULT_MAINTENANCE_PAGE } from "../render/maintenance-page.ts";
import { type Ctx, loadEnvironment, opContext } from "./context.ts";

/** The page to serve: the user's file (relative to the current folder) or qdeploy's own. */
export function readMaintenancePage(file: string | undefined): { page: string; custom: boolean } {
  if (file === undefined) return { page: DEFAULT_MAINTENANCE_PAGE, custom: false };
  const full = path.resolve(file);
  let isFile = false;
  try {
    isFile = statSync(full).isFile();
  } catch {
    throw new UsageError(`--file ${file}: no such file (${full})`);
  }
  if (!isFile) throw new UsageError(`--file ${file}: not a regular file`);
  return { page: readFileSync(full, "utf8"), custom: true };
}

/**
 * `qdeploy maintenance on|off|status ENV`: on turns every web host's 503 page on (a push,
 * rollback or restart keeps it), off turns it off, status says which per host. Exit 0, or
 * the error's own code (an on that a host cannot honour changes no host).
 */
export async function maintenance(ctx: Ctx, env: string, action: "on" | "off" | "status", o: { file?: string }, filter: HostFilter): Promise<number> {
  if (o.file !== undefined && action !== "on") throw new UsageError(`--file goes with \`maintenance on\` (the page to serve), not with ${action}`);
  const page = action === "on" ? readMaintenancePage(o.file) : { page: "", custom: false };
  const cfg = await loadEnvironment(ctx, env);
  const r = await fleetMaintenance(opContext(ctx, cfg), action, page, filter);
  ctx.out.data({ app: cfg.app, env: cfg.env, hosts: r.hosts });
  for (const h of r.hosts) {
    ctx.out.result(`${h.host}  maintenance ${h.state}${h.since ? ` since ${h.since}` : ""}`);
    // Only status can see this: on refuses such a host before it changes anything.
    if (h.state === "on" && h.site === "old") ctx.out.warn(`${h.host}: the page is there, but the live Caddy site predates maintenance mode, so the app still takes traffic; push to bring the site up to date`);
  }
  return 0;
}
