/** A plan is data: ordered steps per host, printed by `plan` and run by the executor. */
import type { HostAddress } from "../config/types.ts";
import { quoteArgv } from "../util/quote.ts";
import type { ReleasePhase } from "./release-phase.ts";

export type Step =
  /**
   * Run an argv on the host. `async`: in a batch it starts here and runs beside the steps
   * after it; the batch waits for it at its end (and fails as this step when it fails).
   * `stdin`: text it reads (else /dev/null), inside the batch script as a heredoc.
   */
  | { kind: "run"; argv: string[]; why: string; async?: boolean; stdin?: string }
  /**
   * Write a file with this mode: atomically (temp + rename), or in place when `fresh` (a new
   * release directory that nothing reads yet). `secret` content is never printed.
   */
  | { kind: "write"; path: string; content: string; mode: number; why: string; secret?: boolean; fresh?: boolean }
  /**
   * Send a local file compressed; it appears at `remote` only with the right sha256. With a
   * `base` (a blob the host has, and its copy here), as a zstd patch against it where zstd can.
   */
  | { kind: "upload"; local: string; remote: string; sha256: string; size: number; why: string; base?: { local: string; remote: string; sha256: string } };

/** Steps for one host, in phases the executor runs in order. */
export interface HostPlan {
  host: HostAddress;
  arch: string;
  /** Idempotent preparation, run before the lock is needed (empty when the host is ready). */
  setup: Step[];
  /** Uploads (only blobs the host lacks). */
  upload: Step[];
  /** Writing the release directory; one batch, one round trip. */
  release: Step[];
  /**
   * A fleet that switches in more than one wave: the release's web slot started beside the
   * live one, healthy, out of traffic, on every host before the first wave (switch stage), so
   * a wave only moves its traffic. Empty for one wave: activate does it all in one batch.
   */
  stage: Step[];
  /**
   * Switching to it (and pruning); one batch. Runs once every host's release batch is done
   * and the release phase (Plan.releasePhase) has passed, so nothing switches before both.
   */
  activate: Step[];
  /** What the plan decided and why, for the user. */
  notes: string[];
}

/** The whole plan of a push or rollback. */
export interface Plan {
  action: "push" | "rollback" | "setup";
  app: string;
  env: string;
  release: string | null;
  hosts: HostPlan[];
  /** Heroku's release phase, run between the hosts' release and activate batches; null without one. */
  releasePhase: ReleasePhase | null;
}

/** One line describing a step, for `plan` and progress output. */
export function describeStep(step: Step): string {
  switch (step.kind) {
    case "run":
      return `run    ${quoteArgv(step.argv)}${step.stdin === undefined ? "" : ` (${Buffer.byteLength(step.stdin)} bytes on stdin)`}${step.async ? " (beside the steps after it)" : ""}`;
    case "write":
      return `write  ${step.path} (${step.mode.toString(8).padStart(4, "0")}, ${Buffer.byteLength(step.content)} bytes${step.secret ? ", secret" : ""})`;
    case "upload":
      return `upload ${step.local} -> ${step.remote} (${step.size} bytes raw, sha256 ${step.sha256.slice(0, 12)}${step.base ? `, as a patch against ${step.base.sha256.slice(0, 12)} if zstd can` : ""})`;
  }
}
