/**
 * Review apps as the server runs them: a pull request's preview made, updated or destroyed as a
 * Run keyed ENV/pr-N (one at a time per preview, beside its environment's own runs), with the
 * operations the CLI runs (src/ops/review-apps.ts), and GitHub told how it went.
 */
import { realpath } from "node:fs/promises";
import path from "node:path";
import type { ResolvedConfig, ResolvedPreviews } from "../config/types.ts";
import { NotFoundError, OperationError, UsageError } from "../errors.ts";
import type { OpReport } from "../ops/context.ts";
import { deployPreview, destroyPreview, listPreviews } from "../ops/review-apps.ts";
import { overLimit, PREVIEW_NAME, type PreviewRecord, prPreview } from "../plan/review-app.ts";
import { inspect, servedCommitConfig, serveWho } from "./actions.ts";
import type { ServeDeps } from "./deps.ts";
import { type CommitStatus, postCommitStatus } from "./github-status.ts";
import type { Run } from "./runs.ts";

/** The run key of a review app: one run at a time per preview, beside its environment's own. */
export function previewRunKey(previews: ResolvedPreviews, name: string): string {
  return `${previews.environment}/${name}`;
}

function requirePreviews(deps: ServeDeps): ResolvedPreviews {
  if (!deps.previews) throw new NotFoundError("this server makes no previews: add [previews] to deploy.toml");
  return deps.previews;
}

/**
 * A review app from a pull request: `ref` fetched into a clean worktree, its config taken as a
 * push's is (servedCommitConfig: the served file's hosts, SSH, secrets), then made or updated as
 * preview `id` (src/ops/review-apps.ts). Answered as soon as it starts.
 */
export async function startPreview(deps: ServeDeps, id: { name: string; pr?: number; branch?: string }, ref: string, by: string, github?: { repo: string; sha: string }): Promise<Run> {
  const previews = requirePreviews(deps);
  // Over previews.max a new preview is refused in the answer (the run checks again, last).
  const refusal = overLimit(await livePreviews(deps, by), id.name, previews);
  if (refusal) throw new OperationError(`preview ${id.name} was not made: ${refusal}`);
  return deps.runs.start({ env: previewRunKey(previews, id.name), action: "preview", by, target: `${id.name} ${ref}` }, async (report) => {
    const served = await deps.load(previews.environment);
    const status = await githubStatus(deps, served, report, github);
    await status("pending", `deploying preview ${id.name}`);
    try {
      const checkout = await deps.checkout(ref, report.events);
      try {
        const commit = await deps.load(previews.environment, checkout.configFile);
        const buildDir = commit.build.dir ?? commit.root;
        const realBuildDir = await realpath(buildDir).catch(() => buildDir);
        const cfg = { ...servedCommitConfig(commit, served, { worktree: checkout.dir, file: path.relative(checkout.dir, checkout.configFile), realBuildDir }), previews: served.previews };
        const op = { ...deps.opContext(cfg, report, serveWho(by)), build: deps.commitBuild(checkout) };
        const done = await deployPreview(op, id, checkout.commit);
        await status("success", `preview ${id.name} is live`, done.preview.url ?? undefined);
        return done;
      } finally {
        await checkout.remove();
      }
    } catch (e) {
      await status("failure", report.redactor.redact(`preview ${id.name} failed: ${(e as Error).message.split("\n")[0]}`));
      throw e;
    }
  });
}

/**
 * How a preview's run reports to GitHub: a commit status on the pull request's head when
 * [serve] github_token names a secret the store has and the event said which commit; else
 * nothing. A status GitHub refuses is a warning in the run.
 */
async function githubStatus(deps: ServeDeps, served: ResolvedConfig, report: OpReport, github: { repo: string; sha: string } | undefined) {
  const name = deps.serve.githubToken;
  const token = name && github ? await deps.secret(served, name).catch(() => undefined) : undefined;
  if (name && github && !token) report.events({ type: "warn", line: `no commit status: the store of ${served.env} has no ${name}` });
  if (!token || !github) return async (_state: CommitStatus["state"], _description: string, _url?: string) => {};
  report.redactor.hide([token]);
  return async (state: CommitStatus["state"], description: string, url?: string) => {
    try {
      await postCommitStatus(deps.serve, token, { ...github, state, description, ...(url && { url }) });
    } catch (e) {
      report.events({ type: "warn", line: (e as Error).message });
    }
  };
}

/** A review app's end (its pull request closed, its ttl passed, or asked for). */
export function startPreviewDestroy(deps: ServeDeps, name: string, by: string): Run {
  const previews = requirePreviews(deps);
  return deps.runs.start({ env: previewRunKey(previews, name), action: "preview-destroy", by, target: name }, async (report) => {
    const cfg = await deps.load(previews.environment);
    return destroyPreview(deps.opContext(cfg, report, serveWho(by)), name);
  });
}

/** A preview's name as a request gives it (pr-7, or 7), or a UsageError. */
export function previewName(text: string): string {
  const name = /^[0-9]+$/.test(text) ? prPreview(Number(text)) : text;
  if (!PREVIEW_NAME.test(name)) throw new UsageError(`"${text}" is not a preview: pr-N, N or br-BRANCH`);
  return name;
}

/** The review apps alive, read from their host. */
export async function livePreviews(deps: ServeDeps, by: string): Promise<PreviewRecord[]> {
  const previews = requirePreviews(deps);
  return inspect(deps, previews.environment, by, (op) => listPreviews(op));
}
