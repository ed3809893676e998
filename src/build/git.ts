/** What git says about the source being deployed: the commit and whether it is modified. */

import { $ } from "zx";

/** The checked-out commit (null outside a repository or before the first commit) and whether the tree differs from it. */
export interface GitInfo {
  sha: string | null;
  dirty: boolean;
}

/**
 * Reads `git rev-parse HEAD` and `git status --porcelain` in `dir`. Outside a repository,
 * or without git installed, that is `{ sha: null, dirty: false }`, not an error. `dirty`
 * covers the whole work tree, untracked files included, as Go's own -buildvcs stamp does.
 */
export async function gitInfo(dir: string): Promise<GitInfo> {
  const git = $({ cwd: dir, nothrow: true, quiet: true, verbose: false });
  try {
    const head = await git`git rev-parse --verify -q HEAD`;
    const sha = head.exitCode === 0 && /^[0-9a-f]{40,64}$/.test(head.stdout.trim()) ? head.stdout.trim() : null;
    const status = await git`git status --porcelain`;
    const dirty = status.exitCode === 0 && status.stdout.trim() !== "";
    return { sha, dirty };
  } catch {
    // spawn failures (no such dir) land here even with nothrow
    return { sha: null, dirty: false };
  }
}
