/** A commit fetched into a clean git worktree, for a deploy the server runs (webhook, POST push). */
import type { EventSink } from "../ops/events.ts";
import type { Checkout } from "./deps.ts";
import { OperationError } from "../errors.ts";

export interface CheckoutRequest {
  /** deploy.toml of the served repository (absolute). */
  configFile: string;
  /** The git remote to fetch from ([serve] remote). */
  remote: string;
  /** A branch, tag or commit. */
  ref: string;
  events: EventSink;
}

/** TODO(issue 11, webhook part): git fetch REMOTE REF, git worktree add --detach, deploy.toml's place in it. */
export async function checkoutCommit(_r: CheckoutRequest): Promise<Checkout> {
  throw new OperationError("checkout is not built yet");
}
