/**
 * What build, uploads, batches and operations report while they run, as data: they emit
 * events into a sink they are given and never print. The edges render them: the CLI on the
 * terminal (src/output.ts printEvents), the server as a run's record and stream.
 */

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

/** Where events go: the edge that started the work decides what becomes of them. */
export type EventSink = (event: OpEvent) => void;

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

/**
 * The event with its text passed through `redact`, for an edge to call before the event
 * leaves the process (host labels and counts are not text a secret can hide in).
 */
export function redactEvent(e: OpEvent, redact: (text: string) => string): OpEvent {
  if (e.type === "wave" || e.type === "locked") return e;
  return { ...e, line: redact(e.line) };
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** A live progress line that ticks on its own. */
export interface Ticker {
  /** Redraws now (new detail for `render` to show). */
  update(): void;
  /** Frees the line; `final` (default: none) is what stays of it, as an info line. */
  stop(final?: string): void;
}

/**
 * Starts a live line for `key`: a spinner frame, then `render(seconds since start)`, emitted
 * every `everyMs` (off a terminal the CLI prints none of it). The timer is unref'd, so a
 * ticker never keeps the process alive.
 */
export function startTicker(emit: EventSink, key: string, render: (seconds: number) => string, everyMs = 125): Ticker {
  const started = performance.now();
  let frame = 0;
  let stopped = false;
  const draw = () => {
    if (!stopped) emit({ type: "progress", key, line: `${SPINNER[frame++ % SPINNER.length]} ${render((performance.now() - started) / 1000)}` });
  };
  const timer = setInterval(draw, everyMs);
  timer.unref?.();
  draw();
  return {
    update: draw,
    stop(final = "") {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      emit({ type: "progress", key, line: final, done: true });
    },
  };
}
