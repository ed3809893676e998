/**
 * Operations the server runs in the background (push, rollback, restart): each a Run with
 * its events kept for late subscribers (the dashboard's live view, SSE clients) and its
 * outcome. One Run at a time per environment: the deploy lock on the hosts is the real
 * guard, this only answers a second request at once without a round trip. A run's events
 * and error leave the process from here (its record, the page, the event stream), so they
 * are redacted here, with the secret values its operation read (OpContext.redactor).
 */
import { DeployMetrics } from "./metrics.ts";
import { randomBytes } from "node:crypto";
import { type ErrorBody, errorBody, LockHeldError } from "../errors.ts";
import { type EventSink, type OpEvent, plainEvents, redactEvent } from "../events.ts";
import type { OpReport } from "../ops/context.ts";
import { Redactor } from "../secrets/redact.ts";

/** preview and preview-destroy: a review app's (their env is "ENV/pr-N", one run at a time per preview). */
export type RunAction = "push" | "rollback" | "restart" | "promote" | "preview" | "preview-destroy";

/** What a Run is, as the API returns it. */
export interface RunRecord {
  id: string;
  env: string;
  action: RunAction;
  /** The token's name (or "webhook:github" and the like) that started it. */
  by: string;
  /** What it deploys: a git ref or commit for a push, a release id for a rollback, `FROM` or `FROM RELEASE` for a promotion; null: the default. */
  target: string | null;
  started: string;
  finished: string | null;
  state: "running" | "succeeded" | "failed";
  /** The operation's result (a DeployReport for push and rollback). */
  result: unknown;
  error: ErrorBody | null;
}

/** A running or finished operation. */
export interface Run {
  readonly record: RunRecord;
  /** Every event so far, in order. */
  readonly events: readonly OpEvent[];
  /** Calls `f` with each later event, then with null once the run ends; returns the unsubscribe. */
  subscribe(f: (event: OpEvent | null) => void): () => void;
  /** Settles when the run ends (never rejects: see record.state and record.error). */
  readonly done: Promise<void>;
  /** Settles when every host's deploy lock is held (a `locked` event) or the run ends, whichever is first. */
  readonly lockedOrDone: Promise<void>;
  /** What the operation threw, once it failed (record.error is its JSON form). */
  readonly failure: unknown;
}

export interface StartOptions {
  env: string;
  action: RunAction;
  by: string;
  target?: string | null;
}

/** The server's runs, newest last; finished ones beyond `keep` are forgotten. */
export class Runs {
  private readonly all = new Map<string, Run>();
  /** Every run finished since the server started, counted (GET /metrics): forgetting a run forgets none of these. */
  readonly metrics = new DeployMetrics();

  constructor(private readonly opts: { keep?: number; now?: () => Date } = {}) {}

  /**
   * Starts `work` as a Run. Throws LockHeldError (HTTP 409) while a run of the same
   * environment is going; `work` gets the run's event sink and redactor.
   */
  start(o: StartOptions, work: (report: OpReport) => Promise<unknown>): Run {
    const busy = this.running(o.env);
    if (busy) {
      const holder = `${busy.record.by} (${busy.record.action} ${busy.record.id}, since ${busy.record.started})`;
      throw new LockHeldError(`${o.env}: a ${busy.record.action} is running, started by ${holder}`, holder);
    }
    const now = () => (this.opts.now ?? (() => new Date()))().toISOString();
    const record: RunRecord = { id: newRunId(), env: o.env, action: o.action, by: o.by, target: o.target ?? null, started: now(), finished: null, state: "running", result: null, error: null };
    const events: OpEvent[] = [];
    const subscribers = new Set<(e: OpEvent | null) => void>();
    let locked = () => {};
    const lockedSeen = new Promise<void>((resolve) => (locked = resolve));
    const redactor = new Redactor();
    // A run is read as plain lines (its record, the page, the event stream): no live progress.
    const emit: EventSink = plainEvents((raw) => {
      if (record.state !== "running") return;
      const e = redactEvent(raw, redactor.redact);
      events.push(e);
      if (e.type === "locked") locked();
      for (const f of subscribers) f(e);
    });
    let failure: unknown;
    const done = Promise.resolve()
      .then(() => work({ events: emit, redactor }))
      .then(
        (result) => {
          record.result = result ?? null;
          record.state = "succeeded";
        },
        (e) => {
          // The message as the record, and the request that waited for the lock (a 4xx/5xx answer), show it.
          if (e instanceof Error) e.message = redactor.redact(e.message);
          failure = e;
          record.error = errorBody(e);
          record.state = "failed";
        },
      )
      .finally(() => {
        record.finished = now();
        this.metrics.record(record);
        for (const f of subscribers) f(null);
        subscribers.clear();
        this.prune();
      });
    const run: Run = {
      get failure() {
        return failure;
      },
      record,
      events,
      subscribe(f) {
        if (record.state !== "running") {
          f(null);
          return () => {};
        }
        subscribers.add(f);
        return () => subscribers.delete(f);
      },
      done,
      lockedOrDone: Promise.race([lockedSeen, done]),
    };
    this.all.set(record.id, run);
    return run;
  }

  get(id: string): Run | undefined {
    return this.all.get(id);
  }

  /** The running run of an environment, if any. */
  running(env: string): Run | undefined {
    return [...this.all.values()].find((r) => r.record.env === env && r.record.state === "running");
  }

  /** Every run kept (of one environment, if given), newest first. */
  list(env?: string): RunRecord[] {
    return [...this.all.values()]
      .map((r) => r.record)
      .filter((r) => env === undefined || r.env === env)
      .reverse();
  }

  private prune(): void {
    const keep = this.opts.keep ?? 50;
    const finished = [...this.all.values()].filter((r) => r.record.state !== "running");
    for (const r of finished.slice(0, Math.max(0, finished.length - keep))) this.all.delete(r.record.id);
  }
}

/** A run id: sortable by time, unguessable enough not to collide. */
function newRunId(): string {
  return `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
}
