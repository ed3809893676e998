/**
 * What a failed SSH connection is told as: ssh2's error, read with what connectSsh saw
 * happen (TCP up? handshake done? which keys tried?), becomes one sentence with a next step.
 */
import type { SshEndpoint } from "./ssh-config.ts";

/** What connectSsh saw of a connection attempt by the time it failed. */
export interface ConnectAttempt {
  addr: SshEndpoint;
  /** `HOST port PORT`, as messages name the endpoint. */
  where: string;
  tcpConnected: boolean;
  handshaken: boolean;
  /** The keys offered, in words (`the key FILE`, `the SSH agent's keys`). */
  tried: string[];
  /** Empty, or ` (the agent at SOCK failed: ...)`. */
  agentProblem: string;
  timeoutMs: number;
}

/** The message for a connection that failed with err (the host label and any jump prefix come on top). */
export function describeConnectError(err: Error & { level?: string; code?: string | number }, c: ConnectAttempt): string {
  const check = `is the host up? is port ${c.addr.port} right?`;
  const what = c.tried.length ? c.tried.join(" and ") : "no key";
  if (err.level === "client-timeout") {
    if (c.handshaken) return `logging in as ${c.addr.user} with ${what} did not finish within ${c.timeoutMs / 1000} s${c.agentProblem}`;
    return c.tcpConnected
      ? `connected to ${c.where}, but the SSH handshake did not finish within ${c.timeoutMs / 1000} s; is it an SSH server?`
      : `cannot connect to ${c.where}: timed out after ${c.timeoutMs / 1000} s; ${check}`;
  }
  if (err.level === "client-authentication" || (c.handshaken && c.tried.length)) {
    // The latter: the server hung up mid-login (e.g. "Too many authentication failures").
    const extra = err.level === "client-authentication" ? "" : ` (${err.message})`;
    return `the server refused ${what} for user ${c.addr.user}${extra}${c.agentProblem}`;
  }
  switch (err.code) {
    case "ECONNREFUSED":
      return `cannot connect to ${c.where}: connection refused; ${check}`;
    case "ETIMEDOUT":
      return `cannot connect to ${c.where}: timed out; ${check}`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
    case "EAI_FAIL":
      return `cannot connect: DNS lookup of ${c.addr.host} failed (${err.code}); is the host name right?`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `cannot connect to ${c.where}: no route to host (${err.code}); ${check}`;
    case "ECONNRESET":
      return `connection to ${c.where} was reset${c.handshaken ? "" : " before the SSH handshake"}; ${check}`;
  }
  return `cannot connect to ${c.where}: ${err.message}`;
}
