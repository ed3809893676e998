/**
 * Which Go builds the app, as Heroku's and Qoddi's Go builders choose it: a pinned line
 * (`// +heroku goVersion go1.25`, GOVERSION=go1.25) means that line's newest release, a full
 * version exactly that one. When the local Go is not it, go's own toolchain switch fetches it
 * (GOTOOLCHAIN=goX.Y.Z: the module golang.org/toolchain through GOPROXY, checked against the
 * checksum database, kept in the module cache); the newest release of a line is read from
 * the proxy's list of that module. The choice is pure (chooseToolchain); the lookups are
 * small functions beside it.
 */
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { cacheDir } from "../util/dirs.ts";
import { checkToolchain, compareGoVersions, formatVersion, parseGoVersion, type GoMod, type GoVersion, type GoVersionRequirement, requiredGoVersion } from "./gomod.ts";

/** The Go a build runs and why. */
export interface Toolchain {
  /** e.g. "go1.25.14". */
  version: string;
  /** The GOTOOLCHAIN value: "local" when the installed Go is the one, else `version`. */
  gotoolchain: string;
  /** What asked for it, e.g. "go.mod:3 // +heroku goVersion go1.25", or "the local Go". */
  reason: string;
  /** One line the build shows when the Go is not what was asked for: a pin gave way to the go line, or predates toolchain modules. */
  note?: string;
}

/** The releases a proxy lists, and whether the list is fresh or remembered. */
export interface ToolchainList {
  versions: string[];
  /** "proxy" (just read), "cache" (an earlier read: the proxy did not answer), "module cache" (offline: what was fetched before). */
  from: "proxy" | "cache" | "module cache";
}

/**
 * The Go versions for one host platform ("linux-amd64") in the proxy's list of
 * golang.org/toolchain (`v0.0.1-go1.25.3.linux-amd64` lines). Pure.
 */
export function listedVersions(list: string, platform: string): string[] {
  const suffix = `.${platform}`;
  return list
    .split(/\s+/)
    .filter((v) => v.startsWith("v0.0.1-go") && v.endsWith(suffix))
    .map((v) => v.slice("v0.0.1-".length, -suffix.length));
}

/**
 * The release a pin names: for goX.Y the newest stable goX.Y.Z listed, for goX.Y.Z or a
 * pre-release exactly that, if listed. null when the list has none. Pure.
 */
export function pickRelease(want: GoVersion, listed: string[]): string | null {
  const exact = want.patch !== undefined || want.pre !== undefined;
  let best: GoVersion | null = null;
  for (const text of listed) {
    const v = parseGoVersion(text);
    if (!v || v.major !== want.major || v.minor !== want.minor) continue;
    if (exact) {
      if (v.patch === want.patch && v.pre === want.pre) return text;
      continue;
    }
    if (v.pre !== undefined || v.patch === undefined) continue; // a line means its releases, not rc/beta
    if (!best || v.patch > best.patch!) best = v;
  }
  return best ? formatVersion(best) : null;
}

/**
 * Decides the Go. First the floor: a pin below go.mod's go line (`floor`) gives way to it,
 * as no release of the pin could build the module, and the go line decides as if there
 * were no pin (with a note). Then: no requirement or a `go`/`toolchain` line (this or
 * newer) -> the local Go, or the problem checkToolchain words; a pin -> its release from
 * `listed` (the local Go when that is it). A pin before Go 1.21 (no toolchain module
 * exists) -> the local Go when it is of that line, or 1.21 or newer (Go's compatibility
 * promise: it builds that code), with a note; else a problem. Pure.
 */
export function chooseToolchain(
  required: GoVersionRequirement | null,
  local: string,
  listed: ToolchainList | null,
  floor: GoVersionRequirement | null,
): Toolchain | { problem: string } {
  const localVersion = parseGoVersion(local);
  const localName = localVersion ? formatVersion(localVersion) : local;
  const useLocal = (reason: string, note?: string): Toolchain => ({ version: localName, gotoolchain: "local", reason, ...(note && { note }) });
  if (!required || required.atLeast) {
    const problem = checkToolchain(required, local) ?? (required?.source.endsWith(" go") ? null : checkToolchain(floor, local));
    return problem ? { problem } : useLocal(required ? `${required.source} ${required.version}: the local Go` : "the local Go");
  }
  const want = parseGoVersion(required.version);
  if (!want) return { problem: checkToolchain(required, local)! };
  const asked = `${required.source} ${required.version}`;
  const min = floor ? parseGoVersion(floor.version) : null;
  if (floor && min && pinBelow(want, min)) {
    const wins = `${asked} is older than ${floor.source} ${floor.version}, which wins`;
    const choice = chooseToolchain(floor, local, listed, null);
    return "problem" in choice ? { problem: `${wins}: ${choice.problem}` } : { ...choice, note: `${wins}: building with the local ${choice.version}` };
  }
  // GOTOOLCHAIN switching, and golang.org/toolchain modules, began with Go 1.21.
  if (want.major === 1 && want.minor < 21) {
    if (!checkToolchain(required, local)) return useLocal(asked);
    const old = `${asked}: Go releases before 1.21 are not published as toolchain modules`;
    const code = formatVersion({ major: want.major, minor: want.minor });
    if (localVersion && compareGoVersions(localVersion, { major: 1, minor: 21 }) >= 0) {
      return useLocal(asked, `${old}; building with the local ${localName}, which builds ${code} code by Go's compatibility promise`);
    }
    return {
      problem:
        `${old}, and the local Go (${localName}) is older than 1.21 too: install Go 1.21 or newer (it builds ${code} code, ` +
        `by Go's compatibility promise) or ${required.version} itself (https://go.dev/dl/) and put it first on PATH.`,
    };
  }
  // A full version needs no list (go fetches exactly it), but one the proxy does not list cannot be fetched.
  const exact = want.patch !== undefined || want.pre !== undefined;
  if (exact && listed?.from === "proxy" && !listed.versions.includes(required.version) && required.version !== localName) {
    return { problem: `${asked}: no such Go release is published (the proxy does not list it).` };
  }
  const version = exact ? required.version : listed ? pickRelease(want, listed.versions) : null;
  // Offline with nothing listed: the local Go still serves a pin it satisfies.
  if (!version && !checkToolchain(required, local) && listed?.from !== "proxy") return useLocal(`${asked} (offline: the local Go)`);
  if (!version) {
    return {
      problem: listed?.from === "proxy"
        ? `${asked}: no such Go release is published (the proxy lists no ${required.version}.x).`
        : `${asked}: the Go module proxy did not answer and no ${required.version} toolchain was fetched before; ` +
          `connect to the network (GOPROXY) once, or install ${required.version} (https://go.dev/dl/) and put it first on PATH.`,
    };
  }
  const floorProblem = floor ? checkToolchain(floor, version) : null;
  if (floorProblem) return { problem: `${asked} picks ${version}, but ${floor!.source} needs Go ${floor!.version} or newer: raise the pin or lower the go line.` };
  return version === localName ? useLocal(asked) : { version, gotoolchain: version, reason: asked };
}

/** No release of the pin reaches the go line: a line pin (go1.22) below its minor, an exact one below it. */
function pinBelow(pin: GoVersion, floor: GoVersion): boolean {
  if (pin.patch === undefined && pin.pre === undefined) return compareGoVersions({ major: pin.major, minor: pin.minor }, { major: floor.major, minor: floor.minor }) < 0;
  return compareGoVersions(pin, floor) < 0;
}

/** The first GOPROXY entry that is a URL (entries split on , and |); null for off/direct only. Pure. */
export function proxyUrl(goproxy: string | undefined): string | null {
  const entries = (goproxy?.trim() || "https://proxy.golang.org,direct").split(/[,|]/).map((e) => e.trim());
  for (const e of entries) {
    if (e === "off") return null;
    if (e && e !== "direct") return e.replace(/\/+$/, "");
  }
  return null;
}

/** This machine as Go names it: "linux-amd64", "darwin-arm64". */
export function hostPlatform(): string {
  const arch = { x64: "amd64", arm64: "arm64", arm: "armv6l", ia32: "386" }[process.arch as string] ?? process.arch;
  return `${process.platform}-${arch}`;
}

const LIST_TTL_MS = 6 * 3600_000;

/**
 * The Go releases the proxy lists for this machine: read at most every 6 hours (remembered
 * in ~/.cache/qdeploy), the remembered list when the proxy does not answer, else the
 * toolchains already in the module cache; null when there is nothing at all.
 */
export async function toolchainList(env: Record<string, string | undefined>, modCache: string, fetcher: typeof fetch = fetch): Promise<ToolchainList | null> {
  const platform = hostPlatform();
  const proxy = proxyUrl(env.GOPROXY);
  const cacheFile = path.join(cacheDir(env), "go-toolchains.json");
  const remembered = await readFile(cacheFile, "utf8").then((t) => JSON.parse(t) as { at: number; proxy: string; versions: string[] }, () => null);
  if (remembered && remembered.proxy === proxy && Date.now() - remembered.at < LIST_TTL_MS) return { versions: remembered.versions, from: "proxy" };
  if (proxy) {
    try {
      const r = await fetcher(`${proxy}/golang.org/toolchain/@v/list`, { signal: AbortSignal.timeout(10_000) });
      if (r.ok) {
        const versions = listedVersions(await r.text(), platform);
        await mkdir(path.dirname(cacheFile), { recursive: true });
        await writeFile(cacheFile, JSON.stringify({ at: Date.now(), proxy, versions }));
        return { versions, from: "proxy" };
      }
    } catch {
      // Offline: fall through to what is remembered or fetched.
    }
  }
  if (remembered) return { versions: remembered.versions, from: "cache" };
  const fetched = fetchedToolchains(modCache, platform);
  return fetched.length ? { versions: fetched, from: "module cache" } : null;
}

/** The toolchains go has fetched into the module cache for this platform. */
export function fetchedToolchains(modCache: string, platform = hostPlatform()): string[] {
  const dir = path.join(modCache, "golang.org");
  if (!existsSync(dir)) return [];
  const prefix = "toolchain@v0.0.1-";
  return readdirSync(dir)
    .filter((n) => n.startsWith(prefix) && n.endsWith(`.${platform}`))
    .map((n) => n.slice(prefix.length, -platform.length - 1));
}

/** Whether go already has this toolchain (no download on first use). */
export function isFetched(modCache: string, version: string): boolean {
  return fetchedToolchains(modCache).includes(version);
}

/**
 * The toolchain for a module, or the problem (chooseToolchain): reads the proxy's list only
 * for a pin the local Go is not. `env` is the build's environment (GOVERSION, GOPROXY
 * already merged); `go` is build.go.
 */
export async function resolveToolchain(opts: {
  mod: GoMod;
  env: Record<string, string | undefined>;
  local: string;
  modCache: string;
  go?: string;
  fetcher?: typeof fetch;
}): Promise<Toolchain | { problem: string }> {
  const required = requiredGoVersion(opts.mod, opts.env, opts.go);
  const floor = opts.mod.go ? { version: opts.mod.go.value, source: `go.mod:${opts.mod.go.line} go`, atLeast: true } : null;
  const want = required && !required.atLeast ? parseGoVersion(required.version) : null;
  // A line's newest release is read from the list; an exact one is checked against it unless it is the local Go.
  const fetchable = want !== null && !(want.major === 1 && want.minor < 21);
  const line = want !== null && want.patch === undefined && want.pre === undefined;
  const listed = fetchable && (line || checkToolchain(required, opts.local) !== null) ? await toolchainList(opts.env, opts.modCache, opts.fetcher) : null;
  return chooseToolchain(required, opts.local, listed, floor);
}
