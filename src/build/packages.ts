/**
 * Which programs an app builds: build.main's package patterns (Heroku's install spec),
 * expanded in the module with `go list` to its main packages, each named as `go install`
 * names it. One `bin/NAME` per main package in a release.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { BuildError, ConfigError } from "../errors.ts";
import type { MainPackage, ResolvedConfig } from "../config/types.ts";
import { withInstallFlags } from "./build-vars.ts";
import { parseInstallSpec, type GoMod, type InstallFlags } from "./gomod.ts";

export type { MainPackage };

/** The patterns to build and where they came from (for messages). */
export interface PackageSpec {
  patterns: string[];
  /** "build.main", "GO_INSTALL_PACKAGE_SPEC", "[env] GO_INSTALL_PACKAGE_SPEC", "go.mod:N // +heroku install" or "default". */
  source: string;
  /** The install spec's flags, as the [build] keys they stand for (src/build/build-vars.ts withInstallFlags). */
  flags?: InstallFlags;
  /** What the spec says that qdeploy cannot honour (a flag with no [build] key): reported like a pattern that does not expand. */
  problems?: string[];
}

/**
 * `-mod=vendor` when the module has vendor/modules.txt, as Heroku's Go builder does whatever
 * go.mod's go line says (go itself uses vendor/ by default only from `go 1.14` on), so a
 * vendored app builds from its vendor/ with no download.
 */
export function usesVendor(moduleDir: string): boolean {
  return existsSync(path.join(moduleDir, "vendor", "modules.txt"));
}

/**
 * The patterns, highest first (shared contract 5): build.main, GO_INSTALL_PACKAGE_SPEC in
 * the local environment, then in the environment's [env] table, then go.mod's
 * `// +heroku install`, then ".". The last three are Heroku's `go install` arguments, so
 * their flags are read too (parseInstallSpec). Pure.
 */
export function packageSpec(
  main: string | string[] | undefined,
  env: Record<string, string | undefined>,
  vars: Record<string, string>,
  mod: Pick<GoMod, "herokuInstall"> | null,
): PackageSpec {
  const none = { flags: {}, problems: [] };
  if (main !== undefined) return { patterns: typeof main === "string" ? splitSpec(main) : main, source: "build.main", ...none };
  const installed = (text: string, source: string): PackageSpec => {
    const { packages, flags, problems } = parseInstallSpec(text);
    return { patterns: packages, source, flags, problems };
  };
  if (env.GO_INSTALL_PACKAGE_SPEC?.trim()) return installed(env.GO_INSTALL_PACKAGE_SPEC, "GO_INSTALL_PACKAGE_SPEC");
  if (vars.GO_INSTALL_PACKAGE_SPEC?.trim()) return installed(vars.GO_INSTALL_PACKAGE_SPEC, "[env] GO_INSTALL_PACKAGE_SPEC");
  if (mod?.herokuInstall) {
    const { packages, flags, problems, line } = mod.herokuInstall;
    return { patterns: packages, source: `go.mod:${line} // +heroku install`, flags, problems };
  }
  return { patterns: ["."], source: "default", ...none };
}

/** `go install`'s binary name for an import path (cmd/go's DefaultExecName, module mode). Pure. */
export function installName(importPath: string): string {
  const parts = importPath.split("/");
  const last = parts.at(-1) ?? importPath;
  return parts.length > 1 && isVersionElement(last) ? parts.at(-2)! : last;
}

// v2, v3, ...: a major-version suffix; v0, v1 and v01 are not (cmd/go's isVersionElement).
function isVersionElement(s: string): boolean {
  return /^v\d+$/.test(s) && s[1] !== "0" && s !== "v1";
}

/**
 * The names in a release's bin/ for these main packages: each package's install name, and
 * when there is exactly one, also `binary` (build.binary, default the app), so apps written
 * for one binary keep working. Pure.
 */
export function binaryNames(pkgs: MainPackage[], binary: string): string[] {
  const names = pkgs.map((p) => p.name);
  if (pkgs.length === 1 && !names.includes(binary)) names.push(binary);
  return names;
}

/** One entry of `go list -json`. */
interface ListedPackage {
  ImportPath?: string;
  Name?: string;
  Dir?: string;
  Match?: string[];
  Error?: { Err?: string };
}

/**
 * Parses `go list -e -json` output and keeps the main packages, or lists the problems: a
 * pattern go could not resolve, a pattern matching no main package, two programs with the
 * same name. Pure; `where` names the key in messages.
 */
export function mainPackagesFromList(json: string, moduleDir: string, spec: PackageSpec): { packages: MainPackage[]; problems: string[] } {
  const listed = splitJsonStream(json) as ListedPackage[];
  const problems: string[] = [];
  const packages: MainPackage[] = [];
  const mainsPer = new Map<string, number>(spec.patterns.map((p) => [p, 0]));
  for (const p of listed) {
    if (p.Error?.Err) {
      problems.push(`${JSON.stringify(p.ImportPath ?? "")}: ${cleanGoError(p.Error.Err, moduleDir)}`);
      for (const m of p.Match ?? []) mainsPer.set(m, -1);
      continue;
    }
    if (p.Name !== "main" || !p.ImportPath) continue;
    for (const m of p.Match ?? []) mainsPer.set(m, (mainsPer.get(m) ?? 0) + 1);
    const dir = path.relative(moduleDir, p.Dir ?? moduleDir) || ".";
    // .go files are one package, "command-line-arguments"; go build names it after the first file.
    const files = p.ImportPath === "command-line-arguments" ? (p.Match ?? []) : null;
    const importPath = files ? files.join(" ") : p.ImportPath;
    if (packages.some((q) => q.importPath === importPath)) continue;
    if (files?.length) packages.push({ importPath, dir, name: path.basename(files[0]!, ".go"), files });
    else packages.push({ importPath, dir, name: installName(p.ImportPath) });
  }
  const empty = [...mainsPer].filter(([, n]) => n === 0).map(([p]) => p);
  if (packages.length === 0) {
    if (!problems.length) problems.push(`${quoteList(spec.patterns)} ${spec.patterns.length > 1 ? "hold" : "holds"} no main package (a Go program: package main with func main)`);
  } else if (empty.length) {
    problems.push(`${quoteList(empty)} ${empty.length > 1 ? "hold" : "holds"} no main package (a Go program: package main with func main)`);
  }
  const byName = new Map<string, string[]>();
  for (const p of packages) byName.set(p.name, [...(byName.get(p.name) ?? []), p.importPath]);
  for (const [name, paths] of byName) {
    if (paths.length > 1) problems.push(`${paths.join(" and ")} would both be bin/${name}; build only one of them`);
  }
  return { packages, problems };
}

/** `go list -json` output: one JSON object after another, not an array. Pure. */
export function splitJsonStream(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" && depth++ === 0) start = i;
    else if (c === "}" && --depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
  }
  return out;
}

/**
 * The argv that lists the patterns' packages: -find reads no dependencies, so it is fast
 * and offline; the build's tags, so a file they leave out is left out here too; vendor/
 * when the module has one (usesVendor), so a vendored program is found there.
 */
export function goListArgs(patterns: string[], tags: string[] = [], vendor = false): string[] {
  return ["list", "-find", "-e", ...(vendor ? ["-mod=vendor"] : []), ...(tags.length ? ["-tags", tags.join(",")] : []), "-json=ImportPath,Name,Dir,Match,Error", "--", ...patterns];
}

/**
 * Expands the spec in the module: its main packages, or a ConfigError at `key` (build.main,
 * or where the spec came from) naming the patterns and what go said.
 */
export async function expandPackages(
  moduleDir: string,
  spec: PackageSpec,
  env: Record<string, string | undefined> = process.env,
  tags: string[] = [],
  file = "deploy.toml",
): Promise<MainPackage[]> {
  const problems = await packageProblems(moduleDir, spec, env, tags);
  if ("packages" in problems) return problems.packages;
  throw new ConfigError(problems.problems.map((message) => ({ file, path: spec.source === "build.main" ? "build.main" : "", message: withSource(spec, message) })));
}

/** expandPackages without throwing: the packages, or the problems as text. */
export async function packageProblems(
  moduleDir: string,
  spec: PackageSpec,
  env: Record<string, string | undefined> = process.env,
  tags: string[] = [],
): Promise<{ packages: MainPackage[] } | { problems: string[] }> {
  if (spec.problems?.length) return { problems: spec.problems };
  if (spec.patterns.length === 0) return { problems: ["no package patterns (e.g. \".\" or \"./cmd/...\")"] };
  // -find needs no toolchain download: the local Go only reads the folders. GOOS=linux: the
  // files the servers' build sees (a main package may be `//go:build linux` only).
  let r: ReturnType<typeof Bun.spawnSync>;
  try {
    r = Bun.spawnSync(["go", ...goListArgs(spec.patterns, tags, usesVendor(moduleDir))], { cwd: moduleDir, env: { ...env, GOTOOLCHAIN: "local", GOOS: "linux" } as Record<string, string> });
  } catch {
    throw new BuildError("go is not installed (not found on PATH): install Go from https://go.dev/dl/");
  }
  const stderr = (r.stderr ?? "").toString().trim();
  const stdout = (r.stdout ?? "").toString();
  if (r.exitCode !== 0 && !stdout.trim()) {
    return { problems: [`go list ${spec.patterns.join(" ")} failed: ${cleanGoError(stderr || `exit status ${r.exitCode}`, moduleDir)}`] };
  }
  const { packages, problems } = mainPackagesFromList(stdout, moduleDir, spec);
  return problems.length ? { problems } : { packages };
}

/**
 * Expands cfg's packages (go.mod read by the caller), or takes cfg.build.packages when
 * loading the environment expanded them already, and records the names its releases hold as
 * cfg.build.binaries (shared contract 1), so the units resolve `NAME` and `bin/NAME`.
 * Returns the packages.
 */
export async function resolveBinaries(cfg: ResolvedConfig, mod: Pick<GoMod, "herokuInstall"> | null, env: Record<string, string | undefined> = process.env): Promise<MainPackage[]> {
  const spec = packageSpec(cfg.build.main, env, cfg.vars, mod);
  const pkgs = cfg.build.packages ?? (await expandPackages(cfg.build.dir ?? cfg.root, spec, env, withInstallFlags(cfg.build, spec).tags));
  if (pkgs.length > 1 && cfg.build.binaryGiven) {
    throw new ConfigError([{ file: "deploy.toml", path: "build.binary", message: `names one executable, but ${quoteList(spec.patterns)} build ${pkgs.length} (${pkgs.map((p) => p.name).join(", ")}); remove build.binary: each is bin/NAME` }]);
  }
  cfg.build.binaries = binaryNames(pkgs, cfg.build.binary);
  return pkgs;
}

/** A space-separated spec (GO_INSTALL_PACKAGE_SPEC, a build.main string) as patterns. */
export function splitSpec(spec: string): string[] {
  return spec.split(/\s+/).filter(Boolean);
}

function withSource(spec: PackageSpec, message: string): string {
  return spec.source === "build.main" ? message : `${message} (packages from ${spec.source})`;
}

function quoteList(patterns: string[]): string {
  return patterns.map((p) => JSON.stringify(p)).join(", ");
}

/** go's message without its "go: " prefix and the module folder's absolute path. */
function cleanGoError(text: string, moduleDir: string): string {
  return text
    .split("\n")
    .map((l) => l.replace(/^go: /, "").replaceAll(`${path.resolve(moduleDir)}/`, "./").replaceAll(path.resolve(moduleDir), "."))
    .filter(Boolean)
    .join("; ");
}
