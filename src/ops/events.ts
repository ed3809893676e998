/**
 * What an operation reports while it runs, as data: the CLI prints these events, the HTTP
 * API streams them. Operations never print; they emit events and return their result.
 */
import type { Output } from "../output.ts";

export type OpEvent =
  /** A progress line about the whole operation. */
  | { type: "info"; line: string }
  /** A progress line about one host. */
  | { type: "host"; host: string; line: string }
  /** Detail a user asks for with --verbose. */
  | { type: "debug"; line: string }
  /** Something to look at that did not stop the operation. */
  | { type: "warn"; line: string }
  /** A failure that is not the one the operation throws (another host's, say). */
  | { type: "error"; line: string }
  /** A rollout wave starts: its hosts switch now. */
  | { type: "wave"; wave: number; waves: number; hosts: string[] }
  /** Every host's deploy lock is held (the HTTP API answers a push's request once this is seen). */
  | { type: "locked"; hosts: string[] }
  /**
   * A live progress line for `key` (the build, one host's upload, a health wait), redrawn in
   * place on a terminal; done: the line is over and `line` (if any) is its final info line.
   */
  | { type: "progress"; key: string; line: string; done?: boolean };

export type EventSink = (event: OpEvent) => void;

/**
 * The Output the lower layers (build, batches, uploads) write progress to, as events. Their
 * `result` lines are progress here: an operation's result is the data it returns.
 */
export function eventOutput(emit: EventSink): Output {
  return {
    verbose: true,
    json: false,
    info: (line) => emit({ type: "info", line }),
    host: (host, line) => emit({ type: "host", host, line }),
    debug: (line) => emit({ type: "debug", line }),
    result: (line) => emit({ type: "info", line }),
    data: () => {},
    error: (line) => emit({ type: "error", line }),
    warn: (line) => emit({ type: "warn", line }),
    progress: (key, line, done) => emit(done ? { type: "progress", key, line, done } : { type: "progress", key, line }),
  };
}

/** An event sink that prints through the CLI's Output (which knows --quiet, --verbose, colour). */
export function printEvents(out: Output): EventSink {
  return (e) => {
    switch (e.type) {
      case "info":
        return out.info(e.line);
      case "host":
        return out.host(e.host, e.line);
      case "debug":
        return out.debug(e.line);
      case "warn":
        return out.warn(e.line);
      case "error":
        return out.error(e.line);
      case "wave":
        return out.info(`wave ${e.wave}/${e.waves}: ${e.hosts.join(", ")}`);
      case "locked":
        return out.debug(`holding the deploy lock on ${e.hosts.join(", ")}`);
      case "progress":
        return out.progress(e.key, e.line, e.done);
    }
  };
}

/**
 * The sink for a reader of plain lines (a `qdeploy serve` run's record and stream): live
 * progress is left out, a final progress line becomes an info line, as in a CI log.
 */
export function plainEvents(emit: EventSink): EventSink {
  return (e) => {
    if (e.type !== "progress") return emit(e);
    if (e.done && e.line) emit({ type: "info", line: e.line });
  };
}

/** The same sink with every line passed through `hide` (secret values out, src/secrets/redact.ts). */
export function redactingSink(emit: EventSink, hide: (text: string) => string): EventSink {
  return (e) => {
    if (e.type === "wave" || e.type === "locked") return emit(e);
    if (e.type === "host") return emit({ ...e, line: hide(e.line) });
    emit({ ...e, line: hide(e.line) });
  };
}
