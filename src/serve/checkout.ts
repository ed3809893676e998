/**
 * A commit fetched into a clean git worktree, for a deploy the server runs (webhook, POST
 * push): never the server's own working tree, whose files may be edited or untracked.
 */
import { randomBytes } from "node:crypto";
import { mkdir, realpath } from "node:fs/promises";
import path from "node:path";
import { OperationError, UsageError } from "../errors.ts";
import type { EventSink } from "../events.ts";

/** A commit checked out into a clean worktree for one deploy. */
export interface Checkout {
  /** The full commit id. */
  commit: string;
  /** deploy.toml inside the worktree. */
  configFile: string;
  /** The worktree's top folder (a real path): everything in it is the commit's. */
  dir: string;
  /** Removes the worktree. */
  remove(): Promise<void>;
}

export interface CheckoutRequest {
  /** deploy.toml of the served repository (absolute). */
  configFile: string;
  /** The git remote to fetch from ([serve] remote). */
  remote: string;
  /** A branch, tag or commit. */
  ref: string;
  events: EventSink;
}

/** Refs a webhook or API request may name: no option (a leading -), no refspec or revision syntax. */
const REF = /^(?!-)(?!.*\.\.)[A-Za-z0-9._/@+-]{1,200}$/;

// One checkout at a time: two at once would race on the repository's worktree list.
let queue: Promise<unknown> = Promise.resolve();

/** `git fetch REMOTE REF`, then `git worktree add --detach` of that commit under .qdeploy/serve/worktrees/. */
export function checkoutCommit(r: CheckoutRequest): Promise<Checkout> {
  if (!REF.test(r.ref)) throw new UsageError(`ref "${r.ref}": give a branch, tag or commit id`);
  const next = queue.then(() => checkout(r));
  queue = next.catch(() => {});
  return next;
}

async function checkout(r: CheckoutRequest): Promise<Checkout> {
  // git answers with real paths: deploy.toml's place in the worktree needs its real path too.
  const configFile = await realpath(r.configFile);
  const top = (await git(path.dirname(configFile), ["rev-parse", "--show-toplevel"], "find the repository of deploy.toml")).trim();
  const id = randomBytes(4).toString("hex");
  // A ref of our own, not FETCH_HEAD, which another fetch may overwrite.
  const ref = `refs/qdeploy-serve/${id}`;
  // A stalled remote must not hold the environment's deploy (and every later one) forever.
  const stall = ["-c", "http.lowSpeedLimit=1000", "-c", "http.lowSpeedTime=60"];
  await git(top, [...stall, "fetch", "--quiet", "--no-tags", "--", r.remote, `+${r.ref}:${ref}`], `fetch ${r.ref} from ${r.remote}`, FETCH_TIMEOUT_MS);
  try {
    const commit = (await git(top, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], `${r.ref} is not a commit`)).trim();
    const dir = path.join(top, ".qdeploy", "serve", "worktrees", `${commit.slice(0, 12)}-${id}`);
    await mkdir(path.dirname(dir), { recursive: true });
    await git(top, ["worktree", "add", "--quiet", "--detach", dir, commit], `check out ${commit}`);
    r.events({ type: "info", line: `fetched ${r.ref} (${commit.slice(0, 12)}) from ${r.remote} into a clean worktree` });
    return {
      commit,
      configFile: path.join(dir, path.relative(top, configFile)),
      dir,
      remove: async () => {
        await git(top, ["worktree", "remove", "--force", dir], `remove the worktree ${dir}`).catch(() => {});
        await git(top, ["worktree", "prune"], "prune worktrees").catch(() => {});
      },
    };
  } finally {
    await git(top, ["update-ref", "-d", ref], `delete ${ref}`).catch(() => {});
  }
}

/** The longest a fetch may take before it is stopped. */
const FETCH_TIMEOUT_MS = 10 * 60_000;

/** Runs git (argv, no shell, no prompt); its stdout, or an OperationError with what failed and git's own words. */
async function git(cwd: string, args: string[], what: string, timeoutMs = 60_000): Promise<string> {
  // GIT_SSH_COMMAND, unless the user set one: never ask for a password, give up on a dead host.
  const env = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? "ssh -o BatchMode=yes -o ConnectTimeout=30" };
  const p = Bun.spawn(["git", ...args], { cwd, stdout: "pipe", stderr: "pipe", stdin: "ignore", env });
  const timer = setTimeout(() => p.kill(), timeoutMs);
  try {
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (p.signalCode) throw new OperationError(`git: could not ${what}: stopped after ${timeoutMs / 1000}s`);
    if (code !== 0) throw new OperationError(`git: could not ${what} (exit ${code})${err.trim() ? `:\n  ${err.trim().split("\n").join("\n  ")}` : ""}`);
    return out;
  } finally {
    clearTimeout(timer);
  }
}
