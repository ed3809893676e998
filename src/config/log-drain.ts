/** `[logs] drain`: where each host sends the app's journal lines (src/render/log-drain.ts). Pure. */

/** A syslog receiver over TLS (RFC 5425), as log services name theirs: `syslog+tls://HOST:PORT`. */
export interface LogDrain {
  host: string;
  port: number;
  /** As written, for messages. */
  url: string;
}

/** The drain a URL names, or why it names none (a message for deploy.toml's `logs.drain`). */
export function parseDrain(url: string): LogDrain | { problem: string } {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//.exec(url)?.[1];
  if (scheme === "https" || scheme === "http") {
    return {
      problem:
        `${scheme}:// drains are not supported: Debian's rsyslog, which sends the logs, has no HTTP output; ` +
        "use your log service's syslog-over-TLS endpoint (syslog+tls://HOST:PORT: Papertrail, Logtail, Datadog and most others have one)",
    };
  }
  const m = /^syslog\+tls:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(url);
  if (!m) return { problem: scheme && scheme !== "syslog+tls" ? `${scheme}:// is not a drain qdeploy knows; write syslog+tls://HOST:PORT (syslog over TLS, RFC 5425)` : `"${url}" is not a drain URL; write syslog+tls://HOST:PORT` };
  const [, host, port] = m as unknown as [string, string, string | undefined];
  if (port === undefined) return { problem: `${url} has no port (syslog over TLS is usually 6514; your log service says which)` };
  const n = Number(port);
  if (n < 1 || n > 65535) return { problem: `port ${port} is not a TCP port (1-65535)` };
  return { host: host.replace(/^\[|\]$/g, ""), port: n, url };
}
