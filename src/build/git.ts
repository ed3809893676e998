/** What git says about the source being deployed: the commit and whether it is modified. */

import path from "node:path";

/** The checked-out commit (null outside a repository or before the first commit) and whether the tree differs from it. */
export interface GitInfo {
  sha: string | null;
  dirty: boolean;
}

/**
 * Reads `git rev-parse HEAD` and `git status --porcelain` in `dir`. Outside a repository,
 * or without git installed, that is `{ sha: null, dirty: false }`, not an error. `dirty`
 * covers the whole work tree, untracked files included, as Go's own -buildvcs stamp does,
 * except the paths in `ignore` (absolute; deploy.toml and the secrets, which are no part of
 * the binary: changing them is a config-only release).
 */
export async function gitInfo(dir: string, ignore: string[] = []): Promise<GitInfo> {
  // zx on first use: its ~50 ms load is paid only by commands that run git or go.
  const { $ } = await import("zx");
  const git = $({ cwd: dir, nothrow: true, quiet: true, verbose: false });
  try {
    const head = await git`git rev-parse --verify -q HEAD`;
    const sha = head.exitCode === 0 && /^[0-9a-f]{40,64}$/.test(head.stdout.trim()) ? head.stdout.trim() : null;
    const excludes = ignore.map((p) => `:(exclude)${path.relative(dir, p) || "."}`);
    const status = await git`git status --porcelain -- ${[":/", ...excludes]}`;
    const dirty = status.exitCode === 0 && status.stdout.trim() !== "";
    return { sha, dirty };
  } catch {
    // spawn failures (no such dir) land here even with nothrow
    return { sha: null, dirty: false };
  }
}
