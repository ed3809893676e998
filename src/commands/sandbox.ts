/** `qdeploy sandbox up [--hosts N]|down|ssh [N]|status`: the local disposable server(s). */
import { UsageError } from "../errors.ts";
import {
  MAX_FLEET_VMS,
  sandboxDown,
  sandboxFleetStatus,
  sandboxFleetUp,
  sandboxSshArgv,
  sandboxStatus,
  sandboxUp,
  type SandboxInfo,
} from "../sandbox/index.ts";
import { type Ctx, projectDir } from "./context.ts";

const USAGE = "usage: qdeploy sandbox up [--hosts N]|down|ssh [N]|status";

/** Runs one sandbox subcommand; `args` are the positionals after it; returns the exit status. */
export async function sandbox(ctx: Ctx, sub: string | undefined, args: string[] = [], hosts?: string | true): Promise<number> {
  const opts = { projectDir: projectDir(ctx), log: (l: string) => ctx.out.info(l) };
  if (hosts !== undefined && sub !== "up") throw new UsageError(`--hosts goes with \`sandbox up\` (${USAGE})`);
  switch (sub) {
    case "up": {
      if (hosts === undefined) {
        const info = await sandboxUp(opts);
        ctx.out.data(info);
        ctx.out.result(`sandbox running: ${reach(info)}`);
        return 0;
      }
      const infos = await sandboxFleetUp({ ...opts, hosts: vmNumber("--hosts", hosts) });
      ctx.out.data(infos);
      for (const info of infos) ctx.out.result(`sandbox VM ${info.vm} running: ${reach(info)}, private ${info.lanAddress}`);
      return 0;
    }
    case "down":
      await sandboxDown(opts);
      ctx.out.result("sandbox down");
      return 0;
    case "status": {
      const all = await sandboxFleetStatus(opts);
      const running = all.filter((i) => i.running);
      const fleet = running.some((i) => i.vm > 1);
      // Without a fleet the data is VM 1's, running or not, as before fleets.
      ctx.out.data(fleet ? running : all[0]);
      if (running.length === 0) ctx.out.result("not running");
      for (const info of running) {
        ctx.out.result(`${fleet ? `VM ${info.vm} ` : ""}running (pid ${info.pid}): ssh 127.0.0.1:${info.sshPort}, https 127.0.0.1:${info.httpsPort}`);
      }
      return running.length > 0 ? 0 : 1;
    }
    case "ssh": {
      const vm = args[0] === undefined ? 1 : vmNumber("the VM number", args[0]);
      const info = await sandboxStatus(opts, vm);
      if (!info.running) {
        throw new UsageError(vm === 1 ? "the sandbox is not running: qdeploy sandbox up" : `sandbox VM ${vm} is not running: qdeploy sandbox up --hosts ${vm}`);
      }
      const proc = Bun.spawn(sandboxSshArgv(info), { stdio: ["inherit", "inherit", "inherit"] });
      return await proc.exited;
    }
    default:
      throw new UsageError(USAGE);
  }
}

function reach(info: SandboxInfo): string {
  return `ssh root@127.0.0.1:${info.sshPort}, http 127.0.0.1:${info.httpPort}, https 127.0.0.1:${info.httpsPort}`;
}

/** A VM count or number: an integer 1..MAX_FLEET_VMS. */
function vmNumber(what: string, raw: string | true): number {
  const n = Number(raw);
  if (raw === true || !/^\d+$/.test(raw) || n < 1 || n > MAX_FLEET_VMS) {
    throw new UsageError(`${what} must be an integer from 1 to ${MAX_FLEET_VMS}, not ${JSON.stringify(raw)}`);
  }
  return n;
}
