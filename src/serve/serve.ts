/** `qdeploy serve`'s listener: the hono app (./app.ts) on Bun.serve. */
import { SSE_HEARTBEAT_MS } from "./api.ts";
import { createApp } from "./app.ts";
import type { ServeDeps } from "./deps.ts";

export interface RunningServer {
  /** http://HOST:PORT (the port the system gave, for port 0). */
  url: string;
  /** Stops listening and closes open connections (SSE streams included). */
  stop(): Promise<void>;
}

/** Loopback addresses: listening there needs no TLS in front. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Starts the server; `warn` hears that a non-loopback address is plain HTTP. */
export function startServer(deps: ServeDeps, listen: { host: string; port: number }, warn: (line: string) => void = () => {}): RunningServer {
  if (!isLoopback(listen.host)) {
    warn(`listening on ${listen.host}, not loopback, without TLS: tokens cross the network in clear; put it behind Caddy (qdeploy serve --install ENV) or listen on 127.0.0.1`);
  }
  const app = createApp(deps);
  const server = Bun.serve({
    hostname: listen.host.replace(/^\[|\]$/g, ""),
    port: listen.port,
    // Bun's idle timeout (seconds) must outlast the SSE heartbeat, or a quiet stream is cut.
    idleTimeout: Math.ceil((SSE_HEARTBEAT_MS * 2) / 1000),
    fetch: app.fetch,
  });
  const host = server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname;
  return {
    url: `http://${host}:${server.port}`,
    stop: () => server.stop(true),
  };
}
