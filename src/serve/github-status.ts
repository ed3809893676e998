/**
 * Commit statuses on GitHub for review apps ([serve] github_token): `qdeploy/preview` on the pull
 * request's head commit, pending while it deploys, then success with the preview's URL, or
 * failure. The PR page shows it with a Details link. A status that cannot be posted is a
 * warning in the run, never its failure.
 */
import type { ResolvedServe } from "../config/types.ts";

/** GitHub's "owner/name". */
const REPO = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/;
export const STATUS_CONTEXT = "qdeploy/preview";

export interface CommitStatus {
  repo: string;
  sha: string;
  state: "pending" | "success" | "failure";
  description: string;
  url?: string;
}

/** Posts one status (POST /repos/OWNER/NAME/statuses/SHA); throws with GitHub's answer when refused. */
export async function postCommitStatus(serve: Pick<ResolvedServe, "githubApi">, token: string, s: CommitStatus, fetchFn: typeof fetch = fetch): Promise<void> {
  if (!REPO.test(s.repo) || !/^[0-9a-f]{40,64}$/.test(s.sha)) throw new Error(`no commit status: "${s.repo}" ${s.sha} is not a repository and commit`);
  const res = await fetchFn(`${serve.githubApi}/repos/${s.repo}/statuses/${s.sha}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, accept: "application/vnd.github+json", "x-github-api-version": "2022-11-28", "content-type": "application/json", "user-agent": "qdeploy" },
    // GitHub keeps 140 characters of a description.
    body: JSON.stringify({ state: s.state, context: STATUS_CONTEXT, description: s.description.slice(0, 140), ...(s.url && { target_url: s.url }) }),
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`GitHub answered ${res.status} to the ${s.state} status of ${s.sha.slice(0, 12)}: ${(await res.text()).slice(0, 200)}`);
}
