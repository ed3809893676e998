#!/usr/bin/env bun
/**
 * qdeploy's entry point: parse the command line, run one command, and turn every error
 * into one clear message and an exit status (0 done, 1 failed, 2 bad usage or config).
 */
import { QdeployError, UsageError } from "./errors.ts";
import { createOutput, type Output } from "./output.ts";
import { type Ctx } from "./commands/context.ts";
import type { HostFilter } from "./ops/sessions.ts";

const HELP = `qdeploy: deploy Go apps to your own Linux servers (systemd + Caddy, zero downtime)

usage: qdeploy COMMAND [ARGS] [--config FILE] [--json] [--quiet] [--verbose]

  init                          write a deploy.toml for the Go module here
  check [ENV]                   validate deploy.toml; every problem at once, with its line
  plan ENV [--arch A]           what push would build, upload, write and run (offline)
  setup ENV [--bootstrap [--bootstrap-user U] [--key FILE.pub]]
                                prepare the hosts (Caddy, directories); push does it when needed;
                                --bootstrap first logs in as U (root) and creates the deploy user
  push ENV [--no-revert]        build, upload, switch with zero downtime, host wave by wave
  rollback ENV [RELEASE]        back to the previous good release (or the one named)
  releases ENV [--json]         releases on the hosts; which is live where
  status ENV [--json]           live release, units, health, next timer runs; exit 1 on drift
  logs ENV [PROCESS] [-f] [--since T] [-n N]
                                the journal of the app's units, host-prefixed
  restart ENV [PROCESS]         zero-downtime restart (the one the restart timer runs)
  exec ENV [--host N] -- CMD... run a one-off command with the app's environment
                                push, rollback, restart, logs, exec, status, releases take
                                --hosts H1,H2 and --role PROCESS to touch only those hosts
  secrets set|unset|list|edit ENV ...   the per-environment secret store
  secrets recipients list|add ...       who can decrypt the age store
  lock status|release ENV       the deploy lock
  sandbox up [--hosts N]|down|ssh [N]|status
                                local disposable Debian VMs to deploy to (one, or N)
  serve [--listen HOST:PORT]    the HTTP API and dashboard (default [serve] listen, 127.0.0.1:7070)
  serve token add NAME --role read|deploy [--expires 30d] | list | remove NAME
                                the server's API tokens (shown once, stored hashed)
  serve --install ENV           run qdeploy serve as a hardened unit on ENV's first web host,
                                behind its Caddy at [serve] domain

options:
  --config FILE     deploy.toml to read (default ./deploy.toml)
  --identity FILE   age identity for the secret store (else $QDEPLOY_AGE_KEY or your default)
  --lock-wait SECS  how long push waits for another deploy's lock (default 60)
  --json            machine-readable output where a command reports state
  --quiet, --verbose, --help
`;

const VALUE_FLAGS = new Set(["--config", "--since", "--arch", "--identity", "--lock-wait", "--lines", "-n", "--host", "--bootstrap-user", "--key", "--hosts", "--role", "--listen", "--expires", "--install"]);
const BOOL_FLAGS = new Set(["--json", "--quiet", "-q", "--verbose", "-v", "--follow", "-f", "--help", "-h", "--bootstrap", "--no-revert"]);

/** The command line split into positionals, flags and what follows `--`. */
export interface Args {
  positionals: string[];
  flags: Map<string, string | true>;
  rest: string[];
}

/** Parses argv (without the program name); unknown flags are usage errors. */
export function parseArgs(argv: string[]): Args {
  const args: Args = { positionals: [], flags: new Map(), rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      args.rest = argv.slice(i + 1);
      break;
    }
    const [name, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    if (VALUE_FLAGS.has(name)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      args.flags.set(canonical(name), v);
    } else if (BOOL_FLAGS.has(name)) {
      args.flags.set(canonical(name), true);
    } else if (a.startsWith("-") && a !== "-") {
      throw new UsageError(`unknown option ${a} (see qdeploy --help)`);
    } else {
      args.positionals.push(a);
    }
  }
  return args;
}

function canonical(flag: string): string {
  return ({ "-q": "--quiet", "-v": "--verbose", "-f": "--follow", "-h": "--help", "-n": "--lines" } as Record<string, string>)[flag] ?? flag;
}

/** Runs one command line; returns the exit status. */
export async function main(argv: string[], out?: Output): Promise<number> {
  let verbose = argv.includes("--verbose") || argv.includes("-v");
  let o = out ?? createOutput({ verbose });
  try {
    const args = parseArgs(argv);
    const flag = (n: string) => args.flags.get(n);
    verbose = Boolean(flag("--verbose"));
    o = out ?? createOutput({ verbose, quiet: Boolean(flag("--quiet")), json: Boolean(flag("--json")) });
    const [command, ...pos] = args.positionals;
    if (!command || flag("--help")) {
      process.stdout.write(HELP);
      return command || flag("--help") ? 0 : 2;
    }
    const ctx: Ctx = {
      out: o,
      configFile: String(flag("--config") ?? "deploy.toml"),
      identityFile: flag("--identity") as string | undefined,
      lockWaitSec: Number(flag("--lock-wait") ?? 60),
    };
    return await dispatch(ctx, command, pos, args);
  } catch (e) {
    return report(e, o, verbose);
  }
}

/** --hosts and --role as a host filter (src/ops/sessions.ts). */
function hostFilter(args: Args): HostFilter {
  const hosts = args.flags.get("--hosts");
  const role = args.flags.get("--role");
  return {
    ...(typeof hosts === "string" && { hosts: hosts.split(",").map((h) => h.trim()).filter(Boolean) }),
    ...(typeof role === "string" && { role }),
  };
}

const need = (v: string | undefined, usage: string): string => {
  if (!v) throw new UsageError(`usage: qdeploy ${usage}`);
  return v;
};

async function dispatch(ctx: Ctx, command: string, pos: string[], args: Args): Promise<number> {
  const flag = (n: string) => args.flags.get(n);
  switch (command) {
    case "init": {
      const { writeInitConfig } = await import("./config/init.ts");
      const file = await writeInitConfig(process.cwd());
      ctx.out.result(`wrote ${file}; check it with: qdeploy check`);
      return 0;
    }
    case "check": {
      const { check } = await import("./commands/check.ts");
      return check(ctx, pos[0]);
    }
    case "plan": {
      const { plan } = await import("./commands/deploy.ts");
      await plan(ctx, need(pos[0], "plan ENV [--arch ARCH]"), String(flag("--arch") ?? "x86_64"));
      return 0;
    }
    case "setup": {
      const { setup } = await import("./commands/deploy.ts");
      const env = need(pos[0], "setup ENV [--bootstrap [--bootstrap-user USER] [--key FILE.pub]]");
      if (!flag("--bootstrap") && (flag("--bootstrap-user") || flag("--key"))) {
        throw new UsageError("--bootstrap-user and --key go with --bootstrap");
      }
      const key = flag("--key") as string | undefined;
      const bootstrap = flag("--bootstrap") ? { user: String(flag("--bootstrap-user") ?? "root"), ...(key && { keyFile: key }) } : undefined;
      await setup(ctx, env, bootstrap);
      return 0;
    }
    case "push": {
      const { push } = await import("./commands/deploy.ts");
      const r = await push(ctx, need(pos[0], "push ENV"), { filter: hostFilter(args), revert: !flag("--no-revert") });
      ctx.out.data(r);
      return 0;
    }
    case "rollback": {
      const { rollback } = await import("./commands/deploy.ts");
      const r = await rollback(ctx, need(pos[0], "rollback ENV [RELEASE]"), pos[1] ?? null, { filter: hostFilter(args), revert: !flag("--no-revert") });
      ctx.out.data(r);
      return 0;
    }
    case "releases": {
      const { releases } = await import("./commands/inspect.ts");
      await releases(ctx, need(pos[0], "releases ENV"), hostFilter(args));
      return 0;
    }
    case "status": {
      const { status } = await import("./commands/inspect.ts");
      return status(ctx, need(pos[0], "status ENV"), hostFilter(args));
    }
    case "logs": {
      const { logs } = await import("./commands/inspect.ts");
      const since = flag("--since");
      const o = { proc: pos[1] ?? null, follow: Boolean(flag("--follow")), since: since ? String(since) : null, lines: Number(flag("--lines") ?? 100) };
      await logs(ctx, need(pos[0], "logs ENV [PROCESS] [-f] [--since T]"), o, hostFilter(args));
      return 0;
    }
    case "restart": {
      const { restart } = await import("./commands/inspect.ts");
      await restart(ctx, need(pos[0], "restart ENV [PROCESS]"), pos[1] ?? null, hostFilter(args));
      return 0;
    }
    case "exec": {
      const { execCommand } = await import("./commands/inspect.ts");
      const env = need(pos[0], "exec ENV -- COMMAND [ARGS...]");
      return execCommand(ctx, env, [...pos.slice(1), ...args.rest], { hostNumber: Number(flag("--host") ?? 1), filter: hostFilter(args) });
    }
    case "lock": {
      const { lock } = await import("./commands/inspect.ts");
      const sub = pos[0];
      if (sub !== "status" && sub !== "release") throw new UsageError("usage: qdeploy lock status|release ENV");
      await lock(ctx, need(pos[1], "lock status|release ENV"), sub);
      return 0;
    }
    case "secrets": {
      const { secrets } = await import("./commands/secrets.ts");
      return secrets(ctx, pos);
    }
    case "sandbox": {
      const { sandbox } = await import("./commands/sandbox.ts");
      return sandbox(ctx, pos[0], pos.slice(1), flag("--hosts"));
    }
    case "serve": {
      const install = flag("--install");
      if (typeof install === "string") {
        const { serveInstall } = await import("./commands/serve-install.ts");
        return serveInstall(ctx, install);
      }
      const { serve, serveToken } = await import("./commands/serve.ts");
      if (pos[0] === "token") {
        const [role, expires] = [flag("--role"), flag("--expires")];
        return serveToken(ctx, pos[1], pos[2], { ...(typeof role === "string" && { role }), ...(typeof expires === "string" && { expires }) });
      }
      if (pos.length) throw new UsageError(`usage: qdeploy serve [--listen HOST:PORT] | serve token ... (not "${pos.join(" ")}")`);
      const listen = flag("--listen");
      return serve(ctx, typeof listen === "string" ? { listen } : {});
    }
    default:
      throw new UsageError(`unknown command "${command}" (see qdeploy --help)`);
  }
}

/** The one place errors become output. */
function report(e: unknown, out: Output, verbose: boolean): number {
  if (e instanceof QdeployError) {
    out.error(e.message);
    if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
    return e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  out.error(`${err.message}${verbose ? "" : " (run with --verbose for details)"}`);
  if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
  return 1;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
