/** Builds the app's Go binaries once per host architecture. */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { goTarget, platformName } from "./arch.ts";
import { type GitInfo, gitInfo } from "./git.ts";
import { buildEnvironment, withInstallFlags, withLinkerVars } from "./build-vars.ts";
import { buildKey, findCachedBuild, rememberBuild } from "./cache.ts";
import { buildBinary, buildToolchain } from "./go-build.ts";
import { parseGoMod } from "./gomod.ts";
import { type MainPackage, packageSpec, resolveBinaries } from "./packages.ts";
import { readSlug, type Slug } from "./slug.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { type EventSink, startTicker } from "../events.ts";
import type { Artifact, BinaryArtifact } from "../plan/push.ts";
import { formatBytes } from "../util/bytes.ts";

export interface Builds {
  artifacts: Record<string, Artifact>;
  git: string | null;
  seconds: number;
  /** The app's files at the built commit (the module folder's), shipped beside the programs; none: the programs alone. */
  slug?: Slug;
}

/** Where builds, the slug's index and packs are kept. */
export function buildDir(cfg: Pick<ResolvedConfig, "root">): string {
  return path.join(cfg.root, ".qdeploy", "build");
}

/**
 * Expands build.main to the app's main packages (setting cfg.build.binaries) and
 * cross-compiles each for each distinct `uname -m` in archs, one `go build` per package in
 * turn (go build uses every core), so each binary's time is its own.
 */
export async function buildForArchs(cfg: ResolvedConfig, archs: string[], events: EventSink, o: BuildOptions = {}): Promise<Builds> {
  const started = performance.now();
  const info = (line: string) => events({ type: "info", line });
  const debug = (line: string) => events({ type: "debug", line });
  const moduleDir = cfg.build.dir ?? cfg.root;
  // The build's variables: the shell's, else the environment's [env] (as Heroku's config vars).
  const env = buildEnvironment(process.env, cfg.vars);
  const mod = await readFile(path.join(moduleDir, "go.mod"), "utf8").then(parseGoMod, () => null);
  // An install line's -tags/-ldflags stand in for the [build] keys deploy.toml does not write.
  const build = withInstallFlags(withLinkerVars(cfg.build, env), packageSpec(cfg.build.main, env, cfg.vars, mod));
  // No go.mod: buildToolchain says so in its own words; "." is then the only thing to try.
  const pkgs: MainPackage[] = mod ? await resolveBinaries(cfg, mod, env) : [{ importPath: ".", dir: ".", name: cfg.build.binary }];
  // deploy.toml and the secrets are no part of the binary: editing them is a config-only release.
  const git = o.git ?? (await gitInfo(moduleDir, [path.join(cfg.root, "deploy.toml"), path.join(cfg.root, "secrets"), path.join(cfg.root, ".qdeploy")]));
  const artifacts: Record<string, Artifact> = {};
  const outDir = buildDir(cfg);
  const slug = o.slug === false ? undefined : await readAppSlug(moduleDir, cfg.root, outDir);
  if (git.dirty && slug?.commit) slug.notes.push(`the work tree has changes that are not committed: the slug carries commit ${slug.commit.slice(0, 12)}'s files (commit to ship them)`);
  const toolchain = await buildToolchain(moduleDir, env, info, cfg.build.go);
  debug(`Go: ${toolchain.version} (${toolchain.reason})`);
  const programs = pkgs.map((p) => `${p.importPath} ${p.name}`);
  for (const arch of [...new Set(archs)]) {
    const target = goTarget(arch);
    const platform = platformName(target);
    const key = buildKey(git, build, target, toolchain.version, env, programs);
    const cached = await findCachedBuild(outDir, key);
    if (cached) {
      const list = Object.entries(cached.binaries).map(([n, b]) => `${n} ${b.sha256.slice(0, 12)}`).join(", ");
      info(`${platform}: commit ${git.sha!.slice(0, 12)} was built already (${list}): no build`);
      artifacts[arch] = { binaries: Object.fromEntries(Object.entries(cached.binaries).map(([n, b]) => [n, { path: path.join(outDir, b.sha256), ...b }])) };
      continue;
    }
    const binaries: Record<string, BinaryArtifact> = {};
    for (const pkg of pkgs) {
      info(`building ${pkg.name} (${pkg.importPath}) for ${platform}...`);
      // On a terminal: a spinner, the seconds so far and the package go compiles now.
      let compiling = "";
      const spinner = startTicker(events, `build ${pkg.name} ${platform}`, (s) => `building ${pkg.name} for ${platform} (${Math.floor(s)}s)${compiling ? `: ${compiling}` : ""}`);
      let b;
      try {
        b = await buildBinary({ root: moduleDir, build, pkg: pkg.files ?? pkg.importPath, target, gitSha: git.sha, dirty: git.dirty, outDir, env, toolchain, log: debug, progress: info, onPackage: (p) => (compiling = p) });
      } finally {
        spinner.stop();
      }
      info(`built ${pkg.name} for ${platform} in ${b.seconds.toFixed(1)}s: ${formatBytes(b.size)}, sha256 ${b.sha256.slice(0, 12)} (${b.goVersion})`);
      binaries[pkg.name] = { path: b.path, sha256: b.sha256, size: b.size };
    }
    // One program is also bin/<build.binary> (shared contract 2): the same blob, a second link.
    for (const name of cfg.build.binaries ?? []) {
      if (!binaries[name] && pkgs.length === 1) binaries[name] = binaries[pkgs[0]!.name]!;
    }
    artifacts[arch] = { binaries };
    await rememberBuild(outDir, key, { binaries });
  }
  return { artifacts, git: git.sha ? `${git.sha}${git.dirty ? "-dirty" : ""}` : null, seconds: (performance.now() - started) / 1000, ...(slug && { slug }) };
}

export interface BuildOptions {
  /** The commit being built, when the folder is not its git checkout (a commit built in the sandbox, src/serve/sandboxed-build.ts). */
  git?: GitInfo;
  /** false: the programs alone, no slug read (the sandbox's caller reads it from the checkout). */
  slug?: boolean;
}

/** The app's files in the module folder, without deploy.toml's folder's own (.qdeploy/, secrets/, deploy.toml). */
export function readAppSlug(moduleDir: string, configDir: string, cacheDir: string): Promise<Slug> {
  return readSlug(moduleDir, { excluded: rootPathsIn(moduleDir, configDir), cacheDir });
}

/** deploy.toml's folder's own paths (.qdeploy/, secrets/, deploy.toml) as the module folder names them, when inside it. */
function rootPathsIn(moduleDir: string, root: string): string[] {
  const rel = path.relative(moduleDir, root);
  if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) return [];
  const base = rel.split(path.sep).join("/");
  return [`${base}/.qdeploy/`, `${base}/secrets/`, `${base}/deploy.toml`];
}
