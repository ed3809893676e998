import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "zx";
import { gitInfo } from "./git.ts";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "qdeploy-git-"));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const git = (cwd: string) =>
  $({
    cwd,
    quiet: true,
    env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" },
  });

test("outside a repository: no sha, not dirty, no error", async () => {
  const d = tempDir();
  writeFileSync(join(d, "main.go"), "package main\n");
  expect(await gitInfo(d)).toEqual({ sha: null, dirty: false });
});

test("a folder that does not exist: no sha, no error", async () => {
  expect(await gitInfo(join(tempDir(), "missing"))).toEqual({ sha: null, dirty: false });
});

test("a repository: the commit, then dirty on a change or an untracked file", async () => {
  const d = tempDir();
  await git(d)`git init -q`;
  writeFileSync(join(d, "a.txt"), "a\n");
  // before the first commit HEAD does not resolve, but the tree is still dirty
  expect(await gitInfo(d)).toEqual({ sha: null, dirty: true });

  await git(d)`git add a.txt`;
  await git(d)`git commit -q -m one`;
  const head = (await git(d)`git rev-parse HEAD`).stdout.trim();
  expect(head).toMatch(/^[0-9a-f]{40}$/);
  expect(await gitInfo(d)).toEqual({ sha: head, dirty: false });

  writeFileSync(join(d, "a.txt"), "changed\n");
  expect(await gitInfo(d)).toEqual({ sha: head, dirty: true });

  await git(d)`git checkout -q -- a.txt`;
  writeFileSync(join(d, "new.go"), "package main\n");
  expect(await gitInfo(d)).toEqual({ sha: head, dirty: true });
});
