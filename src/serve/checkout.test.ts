import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { requireTool } from "../../test/tools.ts";
import type { OpEvent } from "../events.ts";
import { checkoutCommit } from "./checkout.ts";

function sh(cwd: string, ...argv: string[]): string {
  const r = Bun.spawnSync(argv, { cwd, env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

/** A served clone (with an untracked file) of a bare origin that has two commits on main. */
function repos() {
  requireTool("git");
  const root = mkdtempSync(path.join(tmpdir(), "qdeploy-checkout-"));
  const origin = path.join(root, "origin.git");
  const work = path.join(root, "work");
  sh(root, "git", "init", "-q", "--bare", "-b", "main", origin);
  sh(root, "git", "clone", "-q", origin, work);
  writeFileSync(path.join(work, "deploy.toml"), 'app = "one"\n');
  sh(work, "git", "add", ".");
  sh(work, "git", "commit", "-qm", "one");
  const first = sh(work, "git", "rev-parse", "HEAD");
  writeFileSync(path.join(work, "deploy.toml"), 'app = "two"\n');
  sh(work, "git", "commit", "-qam", "two");
  const second = sh(work, "git", "rev-parse", "HEAD");
  sh(work, "git", "push", "-q", "origin", "main");
  sh(work, "git", "reset", "-q", "--hard", first); // the server's own tree is behind, and dirty:
  writeFileSync(path.join(work, "untracked.txt"), "not in any commit");
  return { work, first, second };
}

describe("checkoutCommit", () => {
  test("a branch or a commit of the remote lands in a clean worktree with its own deploy.toml; remove() takes it away", async () => {
    const { work, first, second } = repos();
    const events: OpEvent[] = [];
    const configFile = path.join(work, "deploy.toml");
    const c = await checkoutCommit({ configFile, remote: "origin", ref: "main", events: (e) => events.push(e) });
    expect(c.commit).toBe(second);
    expect(readFileSync(c.configFile, "utf8")).toBe('app = "two"\n');
    expect(c.dir).toBe(path.dirname(c.configFile));
    expect(existsSync(path.join(path.dirname(c.configFile), "untracked.txt"))).toBe(false);
    expect(events).toEqual([{ type: "info", line: `fetched main (${second.slice(0, 12)}) from origin into a clean worktree` }]);
    const byId = await checkoutCommit({ configFile, remote: "origin", ref: first, events: () => {} });
    expect(readFileSync(byId.configFile, "utf8")).toBe('app = "one"\n');
    await c.remove();
    await byId.remove();
    expect([existsSync(c.configFile), existsSync(byId.configFile)]).toEqual([false, false]);
    expect(sh(work, "git", "for-each-ref", "refs/qdeploy-serve")).toBe("");
  });

  test("a ref the remote lacks fails with git's words; a ref that looks like an option is refused before git runs", async () => {
    const { work } = repos();
    const configFile = path.join(work, "deploy.toml");
    await expect(checkoutCommit({ configFile, remote: "origin", ref: "no-such-branch", events: () => {} })).rejects.toThrow(/git: could not fetch no-such-branch from origin \(exit 128\):\n {2}fatal: couldn't find remote ref no-such-branch/);
    expect(() => checkoutCommit({ configFile, remote: "origin", ref: "--upload-pack=evil", events: () => {} })).toThrow('ref "--upload-pack=evil": give a branch, tag or commit id');
  });
});
