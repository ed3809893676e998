/**
 * The local cross-compile: `go build` for one Linux target, the artifact named by its
 * sha256. The argv and environment are computed by pure functions (goBuildArgs,
 * goBuildEnv) so tests can compare them exactly; buildBinary only runs them.
 */

import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Shell } from "zx";
import { BuildError, InternalError } from "../errors.ts";
import { lineSplitter } from "../util/lines.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { childEnviron } from "../util/child-env.ts";
import { quoteArgv, quoteGoWord } from "../util/quote.ts";
import { platformName, type GoTarget } from "./arch.ts";
import { parseGoMod, type GoMod } from "./gomod.ts";
import { usesVendor } from "./packages.ts";
import { isFetched, resolveToolchain, type Toolchain } from "./toolchain.ts";
import { cgoLdflags, ensureZig, zigCgoEnv, zigTargetFlags, type ZigToolchain } from "./zig.ts";

/** What buildBinary needs. */
export interface BuildOptions {
  /** The folder holding go.mod; `go build` runs here. */
  root: string;
  build: ResolvedConfig["build"];
  target: GoTarget;
  /** The main package to build, e.g. "./cmd/web", or .go files (src/build/packages.ts); default build.main as a single pattern, else ".". */
  pkg?: string | string[];
  /** The commit for the stamp's `{git.sha}`; null outside git ("unknown"). */
  gitSha: string | null;
  /** The work tree differs from gitSha: the stamp gets "-dirty" appended to the sha. */
  dirty?: boolean;
  /** Where the artifact goes, as `outDir/<sha256>`; created when missing. */
  outDir: string;
  /** The complete environment for go (PATH, HOME, GOPATH...); default process.env. */
  env?: Record<string, string | undefined>;
  /** Progress lines (the command, the result). */
  log?: (line: string) => void;
  /** Lines worth showing by default (zig's or a Go's first download); default `log`. */
  progress?: (line: string) => void;
  /** The Go to build with (buildToolchain); default: chosen here from go.mod and env. */
  toolchain?: Toolchain;
  /**
   * Each package go compiles (not those its cache has), as it starts on it, and
   * "downloading MODULE VERSION": given, go runs with -v and these lines leave its output.
   */
  onPackage?: (pkg: string) => void;
}

/** A built binary. */
export interface BuiltBinary {
  /** `outDir/<sha256>`. */
  path: string;
  sha256: string;
  size: number;
  /** Wall time of `go build` alone. */
  seconds: number;
  /** The Go that built it, e.g. "go1.26.8". */
  goVersion: string;
}

/**
 * The stamp value: `{git.sha}` becomes the commit, with "-dirty" when the tree is modified
 * (the binary then holds code that no commit has, and `version` should say so), or
 * "unknown" outside git. Other text is kept as written.
 */
export function stampValue(template: string, gitSha: string | null, dirty = false): string {
  const sha = gitSha ? `${gitSha}${dirty ? "-dirty" : ""}` : "unknown";
  return template.replaceAll("{git.sha}", sha);
}

/**
 * The linker flags: with cgo the static external link (cgoLdflags), the user's, then
 * `-buildid=` (an empty build ID, so the same source gives the same bytes), then
 * `-X symbol=value` for the stamp.
 */
export function goLdflags(build: ResolvedConfig["build"], gitSha: string | null, dirty = false): string {
  const parts = [...(build.cgo ? cgoLdflags(build.ldflags) : []), build.ldflags.trim(), "-buildid="];
  if (build.stamp) {
    parts.push("-X", quoteLdflag(`${build.stamp.symbol}=${stampValue(build.stamp.value, gitSha, dirty)}`));
  }
  return parts.filter(Boolean).join(" ");
}

/**
 * The argv after `go`: `build [-v] -trimpath -buildvcs=false [-mod=vendor] -ldflags ...
 * [-tags a,b] -o OUT PKG...` (-v: list the packages it compiles; vendor: the module has
 * vendor/modules.txt, src/build/packages.ts usesVendor).
 */
export function goBuildArgs(
  build: ResolvedConfig["build"],
  output: string,
  gitSha: string | null,
  dirty = false,
  pkg: string | string[] = singlePackage(build),
  listPackages = false,
  vendor = false,
): string[] {
  const args = ["build", ...(listPackages ? ["-v"] : []), "-trimpath", "-buildvcs=false", ...(vendor ? ["-mod=vendor"] : []), "-ldflags", goLdflags(build, gitSha, dirty)];
  if (build.tags.length) args.push("-tags", build.tags.join(","));
  args.push("-o", output, ...(typeof pkg === "string" ? [pkg] : pkg));
  return args;
}

function singlePackage(build: ResolvedConfig["build"]): string {
  return typeof build.main === "string" ? build.main : (build.main?.[0] ?? ".");
}

/**
 * The environment for `go build`: `base` with the target's GOOS/GOARCH/GOARM, CGO_ENABLED=0
 * (with [build] cgo: 1, CC/CXX as zig's cc for the target's musl and base's CGO_CFLAGS
 * after qdeploy's, see zigCgoEnv) and
 * GOTOOLCHAIN as buildToolchain chose it: "local", or the pinned release go fetched, so
 * go itself never switches to another. GOFLAGS is left alone: go's default
 * (-mod=readonly; goBuildArgs adds -mod=vendor for a vendor/) builds what go.mod and go.sum
 * pin and never rewrites them behind the user's back. QDEPLOY_AGE_KEY, and any variable holding an age
 * secret key, is left out: a build (and every tool and go:generate it runs) needs none.
 */
export function goBuildEnv(
  base: Record<string, string | undefined>,
  build: ResolvedConfig["build"],
  target: GoTarget,
  zig?: ZigToolchain,
  gotoolchain = "local",
): Record<string, string> {
  const env = childEnviron(base, { anyAgeKey: true });
  env.GOOS = target.goos;
  env.GOARCH = target.goarch;
  if (target.goarm) env.GOARM = target.goarm;
  else delete env.GOARM;
  env.CGO_ENABLED = "0";
  if (build.cgo) {
    // never the host's cc: it would link the host's glibc, dynamically, for the host's CPU
    if (!zig) throw new InternalError("a cgo build without zig");
    Object.assign(env, zigCgoEnv(zig, target, env));
  }
  env.GOTOOLCHAIN = gotoolchain;
  return env;
}

/**
 * Reads go.mod in `root`, checks the local Go against what it asks for, runs `go build` and
 * moves the binary to `outDir/<sha256>`. Throws BuildError with go's own output when the
 * toolchain does not fit or the build fails. go's build cache makes a rebuild fast.
 */
export async function buildBinary(opts: BuildOptions): Promise<BuiltBinary> {
  const { root, build, target, log } = opts;
  const base = opts.env ?? process.env;
  const platform = platformName(target);
  if (build.cgo) zigTargetFlags(target); // an unsupported target fails before any download

  const toolchain = opts.toolchain ?? (await buildToolchain(root, base, opts.progress ?? log, build.go));
  const goVersion = toolchain.version;

  const zig = build.cgo ? await ensureZig({ env: base, log: opts.progress ?? log }) : undefined;
  const env = goBuildEnv(base, build, target, zig, toolchain.gotoolchain);
  const { $ } = await import("zx");
  const go = $({ cwd: root, env, nothrow: true, quiet: true, verbose: false });

  await mkdir(opts.outDir, { recursive: true });
  const tmp = join(resolve(opts.outDir), `.build-${process.pid}-${randomBytes(6).toString("hex")}`);
  const onPackage = opts.onPackage;
  const args = goBuildArgs(build, tmp, opts.gitSha, opts.dirty, opts.pkg, Boolean(onPackage), usesVendor(root));
  log?.(`${platform}: go ${quoteArgv(args)} (${goVersion}, CGO_ENABLED=${env.CGO_ENABLED}${zig ? `, zig ${zig.version}: CC=${env.CC}` : ""})`);

  const started = performance.now();
  try {
    const running = go`go ${args}`;
    if (onPackage) {
      const lines = lineSplitter((l) => {
        const pkg = builtPackage(l);
        if (pkg) onPackage(pkg);
      });
      running.stderr?.on("data", (d: Buffer) => lines.push(d.toString()));
    }
    const out = await running;
    const seconds = (performance.now() - started) / 1000;
    if (out.exitCode !== 0) {
      const said = onPackage ? withoutPackageList(out.stdall) : out.stdall;
      throw new BuildError(`go build failed for ${platform}`, said || `go exited with status ${out.exitCode}`);
    }
    const sha256 = await hashFile(tmp);
    const path = join(resolve(opts.outDir), sha256);
    await rename(tmp, path);
    const { size } = await stat(path);
    log?.(`${platform}: built ${sha256.slice(0, 12)} (${(size / 1e6).toFixed(1)} MB) in ${seconds.toFixed(1)}s`);
    return { path, sha256, size, seconds, goVersion };
  } finally {
    await rm(tmp, { force: true });
  }
}

// `go build -v` names each package it compiles on a line of its own: an import path, no
// spaces, no colon (go's errors have both; their `# pkg` headers start with #).
const PACKAGE_LINE = /^[A-Za-z0-9_.~+\-]+(\/[A-Za-z0-9_.~+\-]+)*$/;
const DOWNLOADING = /^go: downloading (\S+ \S+)$/;

/** What a line of `go build -v`'s stderr says it works on: a package path, "downloading M V", or null. */
export function builtPackage(line: string): string | null {
  if (PACKAGE_LINE.test(line)) return line;
  const d = DOWNLOADING.exec(line);
  return d ? `downloading ${d[1]}` : null;
}

/** go's output without -v's package list, so a failure shows go's own messages only. */
export function withoutPackageList(output: string): string {
  return output
    .split("\n")
    .filter((l) => !PACKAGE_LINE.test(l))
    .join("\n");
}

async function readGoMod(root: string): Promise<GoMod> {
  let text: string;
  try {
    text = await readFile(join(root, "go.mod"), "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BuildError(
      code === "ENOENT"
        ? `no go.mod in ${root}: qdeploy builds Go modules (run \`go mod init\` there, or point deploy.toml at the module)`
        : `cannot read ${join(root, "go.mod")}: ${(e as Error).message}`,
    );
  }
  return parseGoMod(text);
}

async function localGoVersion(go: Shell): Promise<string> {
  let out;
  try {
    out = await go`go env GOVERSION`;
  } catch (e) {
    throw new BuildError(`cannot run go: ${(e as Error).message}`);
  }
  if (out.exitCode === 127) throw new BuildError("go is not installed (not found on PATH): install Go from https://go.dev/dl/");
  if (out.exitCode !== 0) throw new BuildError("`go env GOVERSION` failed", out.stdall);
  return out.stdout.trim();
}

/**
 * The Go that builds the module in `root` (src/build/toolchain.ts), or the problem: reads
 * go.mod, asks the local Go its version, and for a pin the proxy's list; fetches nothing.
 * `env` is the build's environment (GOVERSION, GOPROXY); `go` is build.go. Throws
 * BuildError when there is no go.mod or no go.
 */
export async function chooseBuildToolchain(root: string, env: Record<string, string | undefined>, go?: string): Promise<Toolchain | { problem: string }> {
  const mod = await readGoMod(root);
  const clean = childEnviron(env, { anyAgeKey: true });
  const { $ } = await import("zx");
  const local = $({ cwd: root, env: { ...clean, GOTOOLCHAIN: "local" }, nothrow: true, quiet: true, verbose: false });
  const localVersion = await localGoVersion(local);
  const modCache = (await local`go env GOMODCACHE`).stdout.trim();
  return resolveToolchain({ mod, env, local: localVersion, modCache, ...(go !== undefined && { go }) });
}

/**
 * The Go that builds the module in `root` (chooseBuildToolchain), fetched now when it is not
 * the local one and go has not fetched it before, so the fetch is reported apart from the
 * build; its note (a pin that gave way) goes to `log`. Throws BuildError.
 */
export async function buildToolchain(
  root: string,
  env: Record<string, string | undefined>,
  log?: (line: string) => void,
  go?: string,
): Promise<Toolchain & { fetchSeconds?: number }> {
  const toolchain = await chooseBuildToolchain(root, env, go);
  if ("problem" in toolchain) throw new BuildError(`wrong Go version for ${root}`, toolchain.problem);
  if (toolchain.note) log?.(toolchain.note);
  const clean = childEnviron(env, { anyAgeKey: true });
  const { $ } = await import("zx");
  const modCache = (await $({ cwd: root, env: { ...clean, GOTOOLCHAIN: "local" }, nothrow: true, quiet: true, verbose: false })`go env GOMODCACHE`).stdout.trim();
  if (toolchain.gotoolchain === "local" || isFetched(modCache, toolchain.version)) return toolchain;

  log?.(`fetching ${toolchain.version} (${toolchain.reason}) through the Go module proxy...`);
  const started = performance.now();
  const got = await $({ cwd: root, env: { ...clean, GOTOOLCHAIN: toolchain.version }, nothrow: true, quiet: true, verbose: false })`go env GOVERSION`;
  const fetchSeconds = (performance.now() - started) / 1000;
  if (got.exitCode !== 0 || got.stdout.trim() !== toolchain.version) {
    throw new BuildError(
      `cannot fetch ${toolchain.version} (${toolchain.reason})`,
      `${got.stdall.trim() || `go exited with status ${got.exitCode}`}\n` +
        `go fetches it as the module golang.org/toolchain through GOPROXY (${env.GOPROXY || "https://proxy.golang.org"}); ` +
        `check the network and GOPROXY, or install ${toolchain.version} and put it first on PATH.`,
    );
  }
  log?.(`fetched ${toolchain.version} in ${fetchSeconds.toFixed(1)}s`);
  return { ...toolchain, fetchSeconds };
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function quoteLdflag(word: string): string {
  const quoted = quoteGoWord(word);
  if (quoted === null) throw new BuildError(`the stamp ${JSON.stringify(word)} has both ' and " and spaces: go's -ldflags cannot carry it`);
  return quoted;
}
