/** What every operation is given: the environment's config, how to reach a host, where to report. */
import type { HostAddress, ResolvedConfig } from "../config/types.ts";
import type { Remote } from "../remote/remote.ts";
import { type ConnectOptions, connectSsh } from "../remote/ssh.ts";
import type { Builds } from "../build/builds.ts";
import type { EventSink } from "../events.ts";
import type { Redactor } from "../secrets/redact.ts";

/** Opens one connection to a host. The CLI's speaks SSH; unit tests pass recording Remotes. */
export type Connect = (host: HostAddress) => Promise<Remote>;

/** Builds the app for these host architectures (`uname -m`). */
export type Build = (cfg: ResolvedConfig, archs: string[], events: EventSink) => Promise<Builds>;

export interface OpContext {
  /** One environment of deploy.toml, resolved and checked (src/commands/context.ts loadEnvironment). */
  cfg: ResolvedConfig;
  connect: Connect;
  /**
   * Connects as another login instead of the hosts' own (setup --bootstrap's root). Absent
   * where a Connect cannot honour that (the server's pooled connections are keyed per host).
   */
  connectAs?: (user: string) => Connect;
  /** Where the operation reports as it runs; the edge that made the context renders it. */
  events: EventSink;
  /**
   * Where the operation puts the secret values it reads (redactor.hide): the edge that made
   * the context redacts its events, errors and log lines with it as they leave the process.
   */
  redactor: Redactor;
  /** Who is deploying (`user@machine`), for release records and the audit log. */
  who: string;
  /** Seconds a push waits for another's deploy lock. */
  lockWaitSec: number;
  /** The age identity for the secret store (else $QDEPLOY_AGE_KEY or the default). */
  identityFile?: string;
  /** The build; default: go build through src/build/builds.ts. */
  build?: Build;
}

/** Where an operation reports, as the edge that starts it provides it. */
export type OpReport = Pick<OpContext, "events" | "redactor">;

/** The real Connect: SSH as deploy.toml and ~/.ssh/config say (src/remote/ssh.ts). */
export function sshConnect(cfg: ResolvedConfig, log: (line: string) => void, opts: Pick<ConnectOptions, "user" | "persistSec"> = {}): Connect {
  return (host) => connectSsh(host, cfg.ssh, { root: cfg.root, env: cfg.env, log, persistSec: cfg.ssh.persistSec, ...opts });
}
