/**
 * `check`'s look at build.main: each environment's package patterns expanded in its module
 * (src/build/packages.ts), as config problems with their lines, and the binary names the
 * rules check process commands against. With `build` (check, plan, push), also what the
 * build would refuse or build wrong: the Go version, and packages with C code while cgo is off.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { buildEnvironment } from "../build/build-vars.ts";
import { cgoPackages, cgoProblem } from "../build/cgo.ts";
import { chooseBuildToolchain } from "../build/go-build.ts";
import { parseGoMod } from "../build/gomod.ts";
import { binaryNames, type MainPackage, packageProblems, packageSpec } from "../build/packages.ts";
import { readSlug } from "../build/slug.ts";
import { loadConfig, type LoadedConfig } from "./load.ts";
import { formatPath, lineOf, locateKeys, type KeyPath } from "./locate.ts";
import { mergeEnvironment } from "./resolve.ts";
import type { RawConfig } from "./types.ts";
import { BuildError, type ConfigProblem } from "../errors.ts";

/** What checkPackages looks at besides the packages. */
export interface CheckOptions {
  /**
   * What the build would refuse or build wrong: the Go version (src/build/toolchain.ts) and,
   * with build.cgo not written, packages with C code (src/build/cgo.ts: `go list -deps`,
   * which downloads dependencies the module cache lacks, as the build would).
   */
  build?: boolean;
}

/**
 * Expands the packages of `only` (an environment's name), or of every environment (the top
 * level's when there are none). Skipped, with no problem, where there is no go.mod or no
 * go: the build reports those. `binaries` is every name those releases hold, or undefined
 * when none was expanded. `packages`: `only`'s main packages, when they were expanded.
 */
export async function checkPackages(
  raw: RawConfig,
  file: string,
  env: Record<string, string | undefined> = process.env,
  only?: string,
  opts: CheckOptions = {},
): Promise<{ problems: ConfigProblem[]; binaries?: string[]; appFiles?: Set<string>; packages?: MainPackage[] }> {
  const lines = locateKeys(await readFile(file, "utf8").catch(() => ""));
  const defined = isTable(raw.environments) ? Object.keys(raw.environments) : [];
  // One environment to deploy expands only its own packages (an unknown name is loadConfig's to report).
  const envs = only !== undefined && defined.includes(only) ? [only] : defined;
  const problems = new Map<string, ConfigProblem>();
  const names = new Set<string>();
  // The files the releases will carry (the slug), so a command may run one of them (./scripts/x).
  const appFiles = new Set<string>();
  let slugsRead = true;
  let expanded = false;
  let packages: MainPackage[] | undefined;
  for (const name of envs.length ? envs : [null]) {
    const view = mergeEnvironment(raw, name);
    const build = isTable(view.build) ? view.build : {};
    const main = build.main;
    if (main !== undefined && typeof main !== "string" && !(Array.isArray(main) && main.every((m) => typeof m === "string"))) continue; // the schema said so
    if (build.dir !== undefined && typeof build.dir !== "string") continue;
    const moduleDir = path.resolve(path.dirname(file), build.dir ?? ".");
    const goMod = await readFile(path.join(moduleDir, "go.mod"), "utf8").catch(() => null);
    if (goMod === null) continue;
    const slug = await readSlug(moduleDir, { cacheDir: path.join(path.dirname(file), ".qdeploy", "build") }).catch((e) => {
      if (!(e instanceof BuildError)) throw e;
      problems.set(`slug\n${e.message}`, { file, path: "", message: e.message });
      return null;
    });
    if (slug) for (const f of slug.files) appFiles.add(f.path);
    else slugsRead = false;
    const spec = packageSpec(main, env, isTable(view.env) ? (view.env as Record<string, string>) : {}, parseGoMod(goMod));
    // The key the answer belongs to: the environment's own build.main when it writes one.
    const own = (key: string): KeyPath =>
      name !== null && isTable(raw.environments?.[name]?.build) && raw.environments[name]!.build![key as "main"] !== undefined
        ? ["environments", name, "build", key]
        : ["build", key];
    const add = (p: KeyPath, message: string) => {
      const line = lineOf(lines, p);
      const problem = { file, ...(line !== undefined && { line }), path: formatPath(p), message };
      problems.set(`${problem.path}\n${message}`, problem);
    };
    // The build's variables, as the build reads them: the shell's, else [env]'s.
    const buildEnv = buildEnvironment(env, isTable(view.env) ? (view.env as Record<string, string>) : {});
    if (opts.build) {
      // The Go first: a go.mod for a Go that is not here also fails go list, which would only echo it.
      const go = typeof build.go === "string" ? build.go : undefined;
      const toolchain = await chooseBuildToolchain(moduleDir, buildEnv, go).catch((e) => {
        if (e instanceof BuildError) return null; // no go here: push says so
        throw e;
      });
      if (toolchain && "problem" in toolchain) {
        add(go !== undefined ? own("go") : [], toolchain.problem);
        continue;
      }
    }
    let result;
    // build.tags, else the install spec's -tags (src/build/build-vars.ts withInstallFlags).
    const tags = Array.isArray(build.tags) && build.tags.every((t) => typeof t === "string") ? build.tags : (spec.flags?.tags ?? []);
    try {
      // The build's variables ([env] GOFLAGS too), as the build's own expansion had them: the build takes these packages.
      result = await packageProblems(moduleDir, spec, buildEnv, tags);
    } catch (e) {
      if (e instanceof BuildError) continue; // no go here: push says so
      throw e;
    }
    if ("problems" in result) {
      for (const m of result.problems) add(own("main"), spec.source === "build.main" ? m : `${m} (packages from ${spec.source})`);
      continue;
    }
    expanded = true;
    if (name === only) packages = result.packages;
    const binary = typeof build.binary === "string" ? build.binary : raw.app;
    if (result.packages.length > 1 && build.binary !== undefined) {
      add(own("binary"), `names one executable, but build.main has ${result.packages.length} programs (${result.packages.map((p) => p.name).join(", ")}); remove build.binary: each is bin/NAME`);
    }
    for (const n of binaryNames(result.packages, binary)) names.add(n);
    if (opts.build && build.cgo === undefined) {
      const found = await cgoPackages(moduleDir, result.packages.flatMap((p) => p.files ?? [p.importPath]), buildEnv, tags);
      if (found?.length) add(own("cgo"), cgoProblem(found));
    }
  }
  return { problems: [...problems.values()], ...(expanded && { binaries: [...names] }), ...(expanded && slugsRead && { appFiles }), ...(packages && { packages }) };
}

/**
 * loadConfig with build.main expanded (envName's alone, when given): the package problems
 * join the file's, and the rules check commands against the programs the release will hold
 * (null when they could not be listed: the package problem says why, and no command is
 * blamed for it). `opts.build`: also what the build would refuse (check, plan, push).
 * envName's packages go into its config (build.packages), so its build lists them no second time.
 */
export async function loadWithPackages(file: string, envName?: string, opts: CheckOptions = {}): Promise<LoadedConfig> {
  let expanded: MainPackage[] | undefined;
  const loaded = await loadConfig(file, envName, {
    expand: async (raw) => {
      const packages = await checkPackages(raw, file, process.env, envName, opts);
      expanded = packages.packages;
      return { binaries: packages.binaries ?? null, appFiles: packages.appFiles ?? null, problems: packages.problems };
    },
  });
  if (loaded.config && expanded) loaded.config.build.packages = expanded;
  return loaded;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
