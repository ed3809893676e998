/** Builds the Go binary once per host architecture. */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { goTarget, platformName } from "../build/arch.ts";
import { gitInfo } from "../build/git.ts";
import { buildKey, findCachedBuild, localGoVersion, rememberBuild } from "../build/cache.ts";
import { buildBinary } from "../build/go-build.ts";
import type { ResolvedConfig } from "../config/types.ts";
import type { Output } from "../output.ts";
import type { Artifact } from "../plan/push.ts";
import { formatBytes } from "../remote/run-plan.ts";

export interface Builds {
  artifacts: Record<string, Artifact>;
  git: string | null;
  seconds: number;
}

/** Cross-compiles for each distinct `uname -m` in archs (in turn: go build uses every core). */
export async function buildForArchs(cfg: ResolvedConfig, archs: string[], out: Output): Promise<Builds> {
  const started = performance.now();
  const moduleDir = cfg.build.dir ?? cfg.root;
  // deploy.toml and the secrets are no part of the binary: editing them is a config-only release.
  const git = await gitInfo(moduleDir, [path.join(cfg.root, "deploy.toml"), path.join(cfg.root, "secrets"), path.join(cfg.root, ".qdeploy")]);
  const artifacts: Record<string, Artifact> = {};
  const outDir = path.join(cfg.root, ".qdeploy", "build");
  const goVersion = localGoVersion();
  for (const arch of [...new Set(archs)]) {
    const target = goTarget(arch);
    const key = buildKey(git, cfg.build, target, goVersion, process.env);
    const cached = await findCachedBuild(outDir, key);
    if (cached) {
      out.info(`${platformName(target)}: commit ${git.sha!.slice(0, 12)} was built already (sha256 ${cached.sha256.slice(0, 12)}): no build`);
      artifacts[arch] = { path: path.join(outDir, cached.sha256), ...cached };
      continue;
    }
    out.info(`building ${cfg.build.main} for ${platformName(target)}...`);
    const b = await buildBinary({
      root: moduleDir,
      build: cfg.build,
      target,
      gitSha: git.sha,
      dirty: git.dirty,
      outDir,
      log: (l) => out.debug(l),
      progress: (l) => out.info(l),
    });
    out.info(`built ${platformName(target)} in ${b.seconds.toFixed(1)}s: ${formatBytes(b.size)}, sha256 ${b.sha256.slice(0, 12)} (${b.goVersion})`);
    artifacts[arch] = { path: b.path, sha256: b.sha256, size: b.size };
    await rememberBuild(outDir, key, b);
  }
  return { artifacts, git: git.sha ? `${git.sha}${git.dirty ? "-dirty" : ""}` : null, seconds: (performance.now() - started) / 1000 };
}

const archFile = (cfg: ResolvedConfig) => path.join(cfg.root, ".qdeploy", "host-archs.json");

/** The hosts' architectures as the last push saw them, if it saw every one of them. */
export async function lastKnownArchs(cfg: ResolvedConfig): Promise<string[] | null> {
  try {
    const known: Record<string, string> = JSON.parse(await readFile(archFile(cfg), "utf8"));
    const archs = cfg.hosts.map((h) => known[h.label]);
    return archs.every(Boolean) ? [...new Set(archs as string[])] : null;
  } catch {
    return null;
  }
}

/** Records each host's architecture for the next push's early build. */
export async function rememberArchs(cfg: ResolvedConfig, facts: { host: { label: string }; arch: string }[]): Promise<void> {
  let known: Record<string, string> = {};
  try {
    known = JSON.parse(await readFile(archFile(cfg), "utf8"));
  } catch {}
  for (const f of facts) known[f.host.label] = f.arch;
  await mkdir(path.dirname(archFile(cfg)), { recursive: true });
  await writeFile(archFile(cfg), `${JSON.stringify(known, null, 1)}\n`);
}
