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
import { ZIG_CGO_CFLAGS, ZIG_VERSION } from "./zig.ts";

const CGO_FLAG_VARS = ["CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_LDFLAGS"];

/** One binary of a cached build. */
export interface CachedBinary {
  sha256: string;
  size: number;
}

/** What one build key built: every binary by its name in bin/. */
export interface CachedBuild {
  binaries: Record<string, CachedBinary>;
}

/**
 * The key of one build: commit, build settings, target, Go version, Go's env knobs and the
 * programs built (import path and name each: GO_INSTALL_PACKAGE_SPEC may change them). Pure.
 */
export function buildKey(
  git: { sha: string | null; dirty: boolean },
  build: ResolvedConfig["build"],
  target: GoTarget,
  goVersion: string,
  env: Record<string, string | undefined>,
  programs: string[] = [],
): string | null {
  if (!git.sha || git.dirty) return null;
  const { dir: _dir, binaries: _binaries, packages: _packages, ...settings } = build;
  // goVersion is the resolved toolchain (go1.25.14, not the pin go1.25); with cgo, zig's version and qdeploy's C flags too.
  const cgo = build.cgo ? { zig: ZIG_VERSION, cflags: ZIG_CGO_CFLAGS, CGO_FLAGS: CGO_FLAG_VARS.map((v) => env[v] ?? "") } : {};
  const inputs = { sha: git.sha, settings, target, goVersion, GOFLAGS: env.GOFLAGS ?? "", programs, ...cgo };
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

/** The binaries built earlier for this key, if every file is still there (entries of older versions are misses). */
export async function findCachedBuild(outDir: string, key: string | null): Promise<CachedBuild | null> {
  if (!key) return null;
  const hit = (await readIndex(outDir))[key];
  const binaries = Object.values(hit?.binaries ?? {});
  return hit && binaries.length && binaries.every((b) => existsSync(path.join(outDir, b.sha256))) ? hit : null;
}

/** Records what a key built to. */
export async function rememberBuild(outDir: string, key: string | null, built: CachedBuild): Promise<void> {
  if (!key) return;
  const index = await readIndex(outDir);
  index[key] = { binaries: Object.fromEntries(Object.entries(built.binaries).map(([n, b]) => [n, { sha256: b.sha256, size: b.size }])) };
  await writeFile(indexFile(outDir), `${JSON.stringify(index, null, 1)}\n`);
}

