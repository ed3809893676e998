/** `qdeploy sandbox up|down|ssh|status`: the local disposable server. */
import { UsageError } from "../errors.ts";
import { sandboxDown, sandboxSshArgv, sandboxStatus, sandboxUp } from "../sandbox/index.ts";
import { type Ctx, projectDir } from "./context.ts";

/** Runs one sandbox subcommand; returns the exit status. */
export async function sandbox(ctx: Ctx, sub: string | undefined): Promise<number> {
  const opts = { projectDir: projectDir(ctx), log: (l: string) => ctx.out.info(l) };
  switch (sub) {
    case "up": {
      const info = await sandboxUp(opts);
      ctx.out.data(info);
      ctx.out.result(`sandbox running: ssh root@127.0.0.1:${info.sshPort}, http 127.0.0.1:${info.httpPort}, https 127.0.0.1:${info.httpsPort}`);
      return 0;
    }
    case "down":
      await sandboxDown(opts);
      ctx.out.result("sandbox down");
      return 0;
    case "status": {
      const info = await sandboxStatus(opts);
      ctx.out.data(info);
      ctx.out.result(info.running ? `running (pid ${info.pid}): ssh 127.0.0.1:${info.sshPort}, https 127.0.0.1:${info.httpsPort}` : "not running");
      return info.running ? 0 : 1;
    }
    case "ssh": {
      const info = await sandboxStatus(opts);
      if (!info.running) throw new UsageError("the sandbox is not running: qdeploy sandbox up");
      const proc = Bun.spawn(sandboxSshArgv(info), { stdio: ["inherit", "inherit", "inherit"] });
      return await proc.exited;
    }
    default:
      throw new UsageError("usage: qdeploy sandbox up|down|ssh|status");
  }
}
