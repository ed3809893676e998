/**
 * Where a deploy.toml host really is: its user, address, port, keys and jump host, from
 * deploy.toml and ~/.ssh/config (parsed by the `ssh-config` package). deploy.toml's
 * explicit values win; ~/.ssh/config fills in what it leaves out; then root, port 22,
 * the default keys. Pure: the caller reads the file.
 */
import SSHConfig from "ssh-config";
import { isPort } from "../config/port.ts";
import { parseHost } from "../config/resolve.ts";
import type { HostAddress } from "../config/types.ts";
import { OperationError } from "../errors.ts";

/** A host as ssh2 connects to it. */
export interface SshEndpoint {
  user: string;
  host: string;
  port: number;
  /** deploy.toml's text (or the jump's), for messages. */
  label: string;
}

/** One host, fully resolved. */
export interface SshTarget extends SshEndpoint {
  /** ~/.ssh/config's IdentityFile entries for it, in order, `~` and %-tokens not yet expanded. */
  identityFiles: string[];
  /** The jump host, resolved the same way (one hop). */
  jump?: SshEndpoint & { identityFiles: string[] };
}

type Computed = Record<string, string | string[]>;

function lookup(config: SSHConfig | null, alias: string, user?: string): Computed {
  if (!config) return {};
  // Match exec would run a command from the file: qdeploy does not, ssh would.
  const opts = { ignoreCase: true, matchExec: false };
  return (user ? config.compute({ Host: alias, User: user }, opts) : config.compute(alias, opts)) as Computed;
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** ssh_config's %-tokens that make sense here: %h host, %n alias, %r remote user, %p port, %%. */
function expandTokens(s: string, t: { host: string; alias: string; user: string; port: number }): string {
  return s.replace(/%([hnrp%])/g, (_m, c: string) =>
    c === "h" ? t.host : c === "n" ? t.alias : c === "r" ? t.user : c === "p" ? String(t.port) : "%",
  );
}

function endpoint(addr: HostAddress, config: SSHConfig | null, defaultUser: string): SshEndpoint & { identityFiles: string[]; proxyJump?: string } {
  const c = lookup(config, addr.host, addr.user);
  const user = addr.user ?? one(c.user) ?? defaultUser;
  const portText = one(c.port);
  const port = addr.port ?? (portText ? Number(portText) : 22);
  if (!isPort(port)) {
    throw new OperationError(`${addr.label}: ~/.ssh/config gives Port ${JSON.stringify(portText)}, not 1..65535`);
  }
  const hostName = one(c.hostname);
  const host = hostName ? expandTokens(hostName, { host: addr.host, alias: addr.host, user, port }) : addr.host;
  const files = c.identityfile === undefined ? [] : Array.isArray(c.identityfile) ? c.identityfile : [c.identityfile];
  const identityFiles = files.filter((f) => f.toLowerCase() !== "none").map((f) => expandTokens(f, { host, alias: addr.host, user, port }));
  const pj = one(c.proxyjump);
  return { user, host, port, label: addr.label, identityFiles, ...(pj && pj.toLowerCase() !== "none" && { proxyJump: pj }) };
}

/**
 * Resolves a host: `user`/`:port` in deploy.toml over ~/.ssh/config's User/Port over
 * root/22; HostName maps an alias to its address; ssh.jump over ProxyJump (one hop,
 * itself resolved through ~/.ssh/config; its user defaults to the host's).
 * `loginUser` (setup --bootstrap's user) beats all of them.
 */
export function resolveSshTarget(
  addr: HostAddress,
  ssh: { jump?: string },
  configText: string | null,
  loginUser?: string,
): SshTarget {
  const config = configText === null ? null : SSHConfig.parse(configText);
  const { proxyJump, ...target } = endpoint(addr, config, "root");
  // The jump host's default user is the host's own, not the bootstrap login's.
  const jumpUser = target.user;
  if (loginUser) target.user = loginUser;
  const jumpSpec = ssh.jump ?? proxyJump;
  if (!jumpSpec) return target;
  if (jumpSpec.includes(",")) {
    throw new OperationError(`${addr.label}: ProxyJump ${jumpSpec} has several hops; qdeploy supports one jump host`);
  }
  let jumpAddr: HostAddress;
  try {
    // ProxyJump may be written ssh://user@host:port; the rest is [user@]host[:port].
    jumpAddr = parseHost(jumpSpec.replace(/^ssh:\/\//, ""));
  } catch (e) {
    throw new OperationError(`${addr.label}: jump host: ${(e as Error).message}`);
  }
  const { proxyJump: _ignored, ...jump } = endpoint(jumpAddr, config, jumpUser);
  return { ...target, jump };
}
