/** `qdeploy addons ...` as the CLI prints it (the work is in src/ops/addons.ts). */
import { createInterface } from "node:readline/promises";
import { UsageError } from "../errors.ts";
import { addonsBackup, addonsBackups, addonsDestroy, addonsPull, addonsRestore, addonsSetup, addonsStatus, pickAddons } from "../ops/addons.ts";
import { withConnections } from "../ops/sessions.ts";
import { type AddonStatus, addonArgv, addonHostAddresses, formatAge } from "../plan/addons.ts";
import { formatBytes } from "../util/bytes.ts";
import { processTerminal, terminalSession } from "./exec-tty.ts";
import { type Ctx, loadEnvironment, opContext } from "./context.ts";

export type AddonsVerb = "setup" | "status" | "backup" | "backups" | "pull" | "restore" | "destroy" | "psql" | "redis-cli";

/** Runs one `addons` verb; its exit status. */
export async function addons(ctx: Ctx, verb: AddonsVerb, env: string, args: string[], o: { yes?: boolean }): Promise<number> {
  const cfg = await loadEnvironment(ctx, env);
  const op = opContext(ctx, cfg);
  const name = args[0] ?? null;
  switch (verb) {
    case "setup": {
      const ready = await addonsSetup(op);
      ctx.out.data({ app: cfg.app, env: cfg.env, addons: ready });
      for (const a of ready) ctx.out.result(`${a.addon} (${a.service}) on ${a.host}: ready, the app reads ${a.var}`);
      return 0;
    }
    case "status": {
      const all = await addonsStatus(op);
      ctx.out.data({ app: cfg.app, env: cfg.env, addons: all });
      for (const s of all) printAddonStatus(ctx, s);
      return all.some((s) => s.state !== "active") ? 1 : 0;
    }
    case "backup": {
      const made = await addonsBackup(op, name);
      ctx.out.data({ app: cfg.app, env: cfg.env, backups: made });
      for (const b of made) ctx.out.result(`${b.addon}: ${b.file} (${formatBytes(b.bytes)})`);
      return 0;
    }
    case "backups": {
      const list = await addonsBackups(op, name);
      ctx.out.data({ app: cfg.app, env: cfg.env, backups: list });
      for (const b of list) ctx.out.result(`${b.addon}  ${b.file}  ${b.at}  ${formatBytes(b.bytes)}`);
      if (list.length === 0) ctx.out.result("no backups yet (qdeploy addons backup takes one)");
      return 0;
    }
    case "pull": {
      if (name === null) throw new UsageError("addons pull: which add-on? (qdeploy addons pull ENV ADDON [BACKUP])");
      const got = await addonsPull(op, name, args[1] ?? null);
      ctx.out.data({ app: cfg.app, env: cfg.env, ...got });
      ctx.out.result(`${got.file} (${formatBytes(got.bytes)})`);
      return 0;
    }
    case "restore": {
      if (name === null || args[1] === undefined) throw new UsageError("addons restore: which add-on, and which backup? (qdeploy addons restore ENV ADDON BACKUP|FILE)");
      pickAddons(op, name);
      await confirm(o.yes, `This replaces the data of ${cfg.app}'s ${name} in ${cfg.env} with ${args[1]} (a backup is taken first).`, name);
      const r = await addonsRestore(op, name, args[1]);
      ctx.out.data({ app: cfg.app, env: cfg.env, addon: name, ...r });
      ctx.out.result(`${name}: restored from ${r.restored}${r.safety ? `; the data before it is in backup ${r.safety}` : ""}`);
      return 0;
    }
    case "destroy": {
      if (name === null) throw new UsageError("addons destroy: which add-on? (qdeploy addons destroy ENV ADDON --yes)");
      await confirm(o.yes, `This drops ${cfg.app}'s add-on ${name} in ${cfg.env}: its data and credentials (a final backup is taken first and kept).`, name);
      const r = await addonsDestroy(op, name);
      ctx.out.data({ app: cfg.app, env: cfg.env, addon: name, ...r });
      ctx.out.result(`${name}: destroyed${r.backup ? `; its final backup is ${r.backup}` : ""}`);
      return 0;
    }
    case "psql":
    case "redis-cli": {
      const [addon] = pickAddons(op, name, verb === "psql" ? "postgres" : "redis");
      if (pickAddons(op, null, addon!.service).length > 1 && name === null) {
        throw new UsageError(`${cfg.env} has several ${addon!.service} add-ons: name one (qdeploy addons ${verb} ${env} NAME)`);
      }
      return withConnections(addonHostAddresses(op.cfg, [addon!]), op.connect, ([c]) => terminalSession(c!.remote, addonArgv(cfg, "console", addon!), processTerminal()));
    }
  }
}

/** Goes on with --yes, or when the user types the add-on's name on a terminal (Heroku's --confirm). */
async function confirm(yes: boolean | undefined, what: string, name: string): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new UsageError(`${what} Run it again with --yes to go on.`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${what}\nType ${name} to go on: `);
    if (answer.trim() !== name) throw new UsageError("not confirmed: nothing was changed");
  } finally {
    rl.close();
  }
}

/** One add-on's line in `addons status` and `status`, and its warning. */
export function printAddonStatus(ctx: Ctx, s: AddonStatus): void {
  const size = s.bytes === null ? "" : `, ${formatBytes(s.bytes)}`;
  const last = s.lastBackup ? `last backup ${s.lastBackup.file} (${formatBytes(s.lastBackup.bytes)}, ${formatAge((Date.now() - Date.parse(s.lastBackup.at)) / 1000)} ago)` : "no backup yet";
  ctx.out.result(`add-on ${s.addon} (${s.service} ${s.version}) on ${s.host}: ${s.state}${size}; ${s.backups} backup${s.backups === 1 ? "" : "s"}, ${last}`);
  if (s.warning) ctx.out.warn(`add-on ${s.addon}: ${s.warning}`);
}
