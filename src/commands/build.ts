/** Builds the Go binary once per host architecture. */
import path from "node:path";
import { goTarget, platformName } from "../build/arch.ts";
import { gitInfo } from "../build/git.ts";
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
  const git = await gitInfo(moduleDir);
  const artifacts: Record<string, Artifact> = {};
  for (const arch of [...new Set(archs)]) {
    const target = goTarget(arch);
    out.info(`building ${cfg.build.main} for ${platformName(target)}...`);
    const b = await buildBinary({
      root: moduleDir,
      build: cfg.build,
      target,
      gitSha: git.sha,
      dirty: git.dirty,
      outDir: path.join(cfg.root, ".qdeploy", "build"),
      log: (l) => out.debug(l),
    });
    out.info(`built ${platformName(target)} in ${b.seconds.toFixed(1)}s: ${formatBytes(b.size)}, sha256 ${b.sha256.slice(0, 12)} (${b.goVersion})`);
    artifacts[arch] = { path: b.path, sha256: b.sha256, size: b.size };
  }
  return { artifacts, git: git.sha ? `${git.sha}${git.dirty ? "-dirty" : ""}` : null, seconds: (performance.now() - started) / 1000 };
}
