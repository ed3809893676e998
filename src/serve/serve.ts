/** `qdeploy serve`'s listener: the hono app (./app.ts) on Bun.serve. */
import { chmodSync, lstatSync, rmSync } from "node:fs";
import type { Listen } from "../config/types.ts";
import { SSE_HEARTBEAT_MS } from "./api.ts";
import { createApp } from "./app.ts";
import type { ServeDeps } from "./deps.ts";

export interface RunningServer {
  /** http://HOST:PORT (the port the system gave, for port 0), or unix:/PATH. */
  url: string;
  /** Stops listening and closes open connections (SSE streams included). */
  stop(): Promise<void>;
}

/** Loopback addresses: listening there needs no TLS in front. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Starts the server; `warn` hears that a non-loopback address is plain HTTP. */
export function startServer(deps: ServeDeps, listen: Listen, warn: (line: string) => void = () => {}): RunningServer {
  // Bun's idle timeout (seconds) must outlast the SSE heartbeat, or a quiet stream is cut.
  const idleTimeout = Math.ceil((SSE_HEARTBEAT_MS * 2) / 1000);
  if ("unix" in listen) {
    // A socket left by a server that died; anything else at that path is not ours to remove.
    if (lstatSync(listen.unix, { throwIfNoEntry: false })?.isSocket()) rmSync(listen.unix);
    // Bun's types leave idleTimeout out for unix sockets, but it applies (without it a quiet SSE
    // stream is cut after Bun's default 10 s; tried with Bun 1.4.5).
    const options = { unix: listen.unix, idleTimeout, fetch: createApp(deps).fetch };
    const server = Bun.serve(options as unknown as Parameters<typeof Bun.serve>[0]);
    // Anyone on the host may connect (as to a loopback port; Caddy must); the folder it is in
    // decides who may take its place (the installed server's: /run/qdeploy-serve, its own).
    chmodSync(listen.unix, 0o666);
    return { url: `unix:${listen.unix}`, stop: () => server.stop(true) };
  }
  if (!isLoopback(listen.host)) {
    warn(`listening on ${listen.host}, not loopback, without TLS: tokens cross the network in clear; put it behind Caddy (qdeploy serve --install ENV) or listen on 127.0.0.1`);
  }
  const app = createApp(deps);
  const server = Bun.serve({
    hostname: listen.host.replace(/^\[|\]$/g, ""),
    port: listen.port,
    idleTimeout,
    fetch: app.fetch,
  });
  const host = server.hostname?.includes(":") ? `[${server.hostname}]` : server.hostname;
  return {
    url: `http://${host}:${server.port}`,
    stop: () => server.stop(true),
  };
}
