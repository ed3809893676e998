/**
 * Remembers which binary a clean commit built to, so a push that changes only config or
 * secrets runs no `go build` at all. A dirty tree is always built (go's own cache keeps
 * that fast): its sources are not named by any commit.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import type { GoTarget } from "./arch.ts";

export interface CachedBuild {
  sha256: string;
  size: number;
}

/** The key of one build: commit, build settings, target, Go version and Go's env knobs. Pure. */
export function buildKey(
  git: { sha: string | null; dirty: boolean },
  build: ResolvedConfig["build"],
  target: GoTarget,
  goVersion: string,
  env: Record<string, string | undefined>,
): string | null {
  if (!git.sha || git.dirty) return null;
  const { dir: _dir, ...settings } = build;
  const inputs = { sha: git.sha, settings, target, goVersion, GOFLAGS: env.GOFLAGS ?? "", GOVERSION: env.GOVERSION ?? "" };
  return createHash("sha256").update(JSON.stringify(inputs)).digest("hex");
}

const indexFile = (outDir: string) => path.join(outDir, "index.json");

async function readIndex(outDir: string): Promise<Record<string, CachedBuild>> {
  try {
    return JSON.parse(await readFile(indexFile(outDir), "utf8"));
  } catch {
    return {};
  }
}

/** The artifact built earlier for this key, if its file is still there. */
export async function findCachedBuild(outDir: string, key: string | null): Promise<CachedBuild | null> {
  if (!key) return null;
  const hit = (await readIndex(outDir))[key];
  return hit && existsSync(path.join(outDir, hit.sha256)) ? hit : null;
}

/** Records what a key built to. */
export async function rememberBuild(outDir: string, key: string | null, built: CachedBuild): Promise<void> {
  if (!key) return;
  const index = await readIndex(outDir);
  index[key] = { sha256: built.sha256, size: built.size };
  await writeFile(indexFile(outDir), `${JSON.stringify(index, null, 1)}\n`);
}

/** `go env GOVERSION` of the local toolchain (never a downloaded one). */
export function localGoVersion(): string {
  const r = Bun.spawnSync(["go", "env", "GOVERSION"], { env: { ...process.env, GOTOOLCHAIN: "local" } });
  return r.exitCode === 0 ? r.stdout.toString().trim() : "unknown";
}
