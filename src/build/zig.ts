/**
 * cgo builds with `zig cc`: a C cross-compiler for every target and a bundled musl, so a
 * cgo app still ships as one static file. zig comes from PyPI's `ziglang` wheel, pinned by
 * version and sha256, installed on first use into the user's cache (like the sandbox's
 * QEMU). The compiler flags and environment are pure (zigTargetFlags, zigCgoEnv,
 * cgoLdflags); ensureZig does the download and extraction.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { chmod, mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { BuildError, OperationError } from "../errors.ts";
import { runOk } from "../sandbox/run.ts";
import { platformName, type GoTarget } from "./arch.ts";
import { cacheDir } from "../util/dirs.ts";
import { quoteGoWord } from "../util/quote.ts";

/** The zig every cgo build uses: a new one changes the C code's bytes, so it is pinned. */
export const ZIG_VERSION = "0.15.2";

/** One `ziglang` wheel: its file name on PyPI and its sha256. */
export interface ZigWheel {
  filename: string;
  sha256: string;
  size: number;
}

// Copied from https://pypi.org/pypi/ziglang/json (releases["0.15.2"]); the download is
// checked against these, not against whatever the index says today.
const WHEELS: Record<string, ZigWheel> = {
  "linux/x64": {
    filename: "ziglang-0.15.2-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl",
    sha256: "806316453d1ede7174ed3fefb8e5348154629089c3bb5fe812dfd0e172fac130",
    size: 93508126,
  },
  "linux/arm64": {
    filename: "ziglang-0.15.2-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl",
    sha256: "edc0aa60ec964a4cf462d40f68d7de242ddf37fd9a80f2afaee6397059463230",
    size: 90542084,
  },
  "darwin/arm64": {
    filename: "ziglang-0.15.2-py3-none-macosx_12_0_arm64.whl",
    sha256: "acae2a9ce67ed249ad68d42c21bc73b5f9d51a33ba5ea42f609f78683e8d9bb7",
    size: 92993702,
  },
  "darwin/x64": {
    filename: "ziglang-0.15.2-py3-none-macosx_12_0_x86_64.whl",
    sha256: "47af4f85e3e59bd672126cc026d3a01b516cad24b9a9ea075abfe8532f4c6bc1",
    size: 97049112,
  },
};

/** The wheel for the machine qdeploy runs on (Node's platform/arch); throws when there is none. */
export function zigWheel(platform: string = process.platform, arch: string = process.arch): ZigWheel {
  const w = WHEELS[`${platform}/${arch}`];
  if (!w) {
    throw new OperationError(
      `cgo = true needs zig ${ZIG_VERSION}, and qdeploy knows no ziglang wheel for this machine (${platform}/${arch}): ` +
        `it has ${Object.keys(WHEELS).join(", ")}`,
    );
  }
  return w;
}

// Go's target -> zig's. GOARM=6 is the Raspberry Pi 1/Zero's ARM1176 with VFPv2; GOARM=7
// any ARMv7-A with VFPv3. Only targets whose static cgo build was seen to work are listed.
const TARGETS: Record<string, string[]> = {
  "linux/amd64": ["-target", "x86_64-linux-musl"],
  "linux/arm64": ["-target", "aarch64-linux-musl"],
  "linux/arm/v7": ["-target", "arm-linux-musleabihf", "-mcpu=generic+v7a"],
  "linux/arm/v6": ["-target", "arm-linux-musleabihf", "-mcpu=arm1176jzf_s"],
  "linux/386": ["-target", "x86-linux-musl"],
  "linux/riscv64": ["-target", "riscv64-linux-musl"],
};

/** `-target TRIPLE [-mcpu=...]` for `zig cc` to build C code for a Go target. Pure. */
export function zigTargetFlags(target: GoTarget): string[] {
  const platform = platformName(target);
  const flags = TARGETS[platform];
  if (!flags) {
    throw new BuildError(
      `cgo = true cannot build for ${platform}: qdeploy's zig cc builds cgo apps for ` +
        `${Object.keys(TARGETS).join(", ")}. Set [build] cgo = false (pure Go) for this host`,
    );
  }
  return flags;
}

/** An installed zig. */
export interface ZigToolchain {
  version: string;
  /** zigDir's `.../qdeploy/zig/VERSION`: the zig itself, and its caches. */
  dir: string;
  /** The zig executable. */
  zig: string;
}

/** Where a zig version lives: zig/VERSION in qdeploy's cache folder (src/util/dirs.ts). Pure. */
export function zigDir(env: Record<string, string | undefined>, version = ZIG_VERSION): string {
  return join(cacheDir(env), "zig", version);
}

/** The toolchain at `dir` (installed or not). Pure. */
export function zigToolchain(dir: string, version = ZIG_VERSION): ZigToolchain {
  return { version, dir, zig: join(dir, "ziglang", "zig") };
}

/**
 * The C (and C++) flags every zig cgo build starts with. `-O2 -g` is go's own default,
 * which any CGO_CFLAGS replaces: without -O2, zig's clang leaves UBSan traps in and the
 * static link fails (`__ubsan_handle_builtin_unreachable`). `-D_LARGEFILE64_SOURCE` gives
 * back the pread64/pwrite64 names musl dropped, which mattn/go-sqlite3 calls.
 */
export const ZIG_CGO_CFLAGS = "-O2 -g -D_LARGEFILE64_SOURCE";

/**
 * What `go build` needs to compile cgo with zig for `target`: CC/CXX as `zig cc -target T`
 * (go splits CC into words itself, so no wrapper script), CGO_CFLAGS/CGO_CXXFLAGS as
 * ZIG_CGO_CFLAGS followed by the user's own (`user`: the build's environment), so theirs add
 * to it (and a later -O3 still wins), zig's caches inside its own folder (not
 * ~/.cache/zig), CGO_ENABLED=1. Pure.
 */
export function zigCgoEnv(zig: ZigToolchain, target: GoTarget, user: Record<string, string | undefined> = {}): Record<string, string> {
  const flags = zigTargetFlags(target).join(" ");
  const exe = quoteForGo(zig.zig);
  const withUser = (name: string) => [ZIG_CGO_CFLAGS, user[name]?.trim()].filter(Boolean).join(" ");
  return {
    CGO_ENABLED: "1",
    CC: `${exe} cc ${flags}`,
    CXX: `${exe} c++ ${flags}`,
    CGO_CFLAGS: withUser("CGO_CFLAGS"),
    CGO_CXXFLAGS: withUser("CGO_CXXFLAGS"),
    ZIG_GLOBAL_CACHE_DIR: join(zig.dir, "cache", "global"),
    ZIG_LOCAL_CACHE_DIR: join(zig.dir, "cache", "local"),
  };
}

/**
 * The -ldflags words a static cgo link needs, before the user's own (go keeps the last of
 * a repeated flag, so a user's -extldflags still wins). `-linkmode external`: without it a
 * program whose only cgo is the standard library's (net, os/user) is linked by go's internal
 * linker, which cannot take musl's libc.a (`relocation target getaddrinfo not defined`).
 * `-extldflags -static`: zig links musl statically by default, but says so explicitly, and
 * zig ignores go's `-s`, so the user's `-s` is passed on to it (a 2.1 MB test binary, 1.6 MB
 * stripped). Pure.
 */
export function cgoLdflags(userLdflags: string): string[] {
  const strip = userLdflags.split(/\s+/).includes("-s");
  return ["-linkmode", "external", "-extldflags", strip ? "'-static -s'" : "-static"];
}

/** Options for ensureZig. */
export interface EnsureZigOptions {
  /** For XDG_CACHE_HOME/HOME; default process.env. */
  env?: Record<string, string | undefined>;
  /** Progress lines (the download's size, rate and time). */
  log?: (line: string) => void;
  /** PyPI's JSON API; default https://pypi.org/pypi. */
  index?: string;
}

/**
 * The pinned zig, downloaded and unpacked on first use: the wheel's URL from PyPI's JSON
 * API, its bytes checked against the pinned sha256, unpacked with python3's zipfile (or
 * unzip) into a temp folder that is renamed into place, so a half-done install is never
 * used. Throws OperationError naming what failed.
 */
export async function ensureZig(opts: EnsureZigOptions = {}): Promise<ZigToolchain> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const tc = zigToolchain(zigDir(env));
  if (existsSync(tc.zig)) return tc;

  const wheel = zigWheel();
  const url = await wheelUrl(opts.index ?? "https://pypi.org/pypi", wheel);
  await mkdir(tc.dir, { recursive: true });
  const tmp = join(tc.dir, `.install-${process.pid}-${randomBytes(6).toString("hex")}`);
  try {
    await mkdir(tmp);
    const whl = join(tmp, "zig.whl");
    log(`downloading zig ${ZIG_VERSION} for cgo (${(wheel.size / 1e6).toFixed(1)} MB, once; ${tc.dir})...`);
    const started = performance.now();
    await download(url, whl, wheel, log);
    const dl = (performance.now() - started) / 1000;
    const unpacked = performance.now();
    await unzip(whl, join(tmp, "x"));
    // zipfile does not keep the executable bit.
    await chmod(join(tmp, "x", "ziglang", "zig"), 0o755);
    await rm(join(tc.dir, "ziglang"), { recursive: true, force: true });
    await rename(join(tmp, "x", "ziglang"), join(tc.dir, "ziglang"));
    log(
      `zig ${ZIG_VERSION}: downloaded in ${dl.toFixed(1)}s (${(wheel.size / 1e6 / Math.max(dl, 0.001)).toFixed(1)} MB/s), ` +
        `unpacked in ${((performance.now() - unpacked) / 1000).toFixed(1)}s`,
    );
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return tc;
}

// The per-version endpoint is the documented one; some PyPI mirrors only serve the
// project's page, whose `releases` has the same files.
async function wheelUrl(index: string, wheel: ZigWheel): Promise<string> {
  const tried: string[] = [];
  for (const api of [`${index}/ziglang/${ZIG_VERSION}/json`, `${index}/ziglang/json`]) {
    let res: Response;
    try {
      res = await fetch(api);
    } catch (e) {
      throw new OperationError(`cgo = true needs zig ${ZIG_VERSION} from PyPI, but ${api} failed: ${(e as Error).message}`);
    }
    if (!res.ok) {
      tried.push(`${api}: HTTP ${res.status}`);
      continue;
    }
    const body = (await res.json()) as { urls?: PypiFile[]; releases?: Record<string, PypiFile[]> };
    const files = api.endsWith(`/${ZIG_VERSION}/json`) ? body.urls : body.releases?.[ZIG_VERSION];
    const file = files?.find((f) => f.filename === wheel.filename);
    if (!file) {
      tried.push(`${api}: no ${wheel.filename}`);
      continue;
    }
    if (file.digests?.sha256 !== wheel.sha256) {
      throw new OperationError(
        `PyPI lists ${wheel.filename} with sha256 ${file.digests?.sha256}, not the pinned ${wheel.sha256}: not installing it`,
      );
    }
    return new URL(file.url, api).href;
  }
  throw new OperationError(`cgo = true needs zig ${ZIG_VERSION} from PyPI, which did not give it: ${tried.join("; ")}`);
}

interface PypiFile {
  filename: string;
  url: string;
  digests?: { sha256?: string };
}

async function download(url: string, dest: string, wheel: ZigWheel, log: (line: string) => void): Promise<void> {
  const res = await fetch(url).catch((e: Error) => {
    throw new OperationError(`downloading ${url} failed: ${e.message}`);
  });
  if (!res.ok || !res.body) throw new OperationError(`downloading ${url} failed: HTTP ${res.status}`);
  const hash = createHash("sha256");
  const out = createWriteStream(dest);
  let got = 0;
  let shown = performance.now();
  const started = shown;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    got += chunk.length;
    if (!out.write(chunk)) await new Promise((r) => out.once("drain", r));
    if (performance.now() - shown > 5000) {
      shown = performance.now();
      const s = (shown - started) / 1000;
      log(`zig: ${(got / 1e6).toFixed(1)} of ${(wheel.size / 1e6).toFixed(1)} MB in ${s.toFixed(0)}s`);
    }
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  const sha = hash.digest("hex");
  if (sha !== wheel.sha256) {
    throw new OperationError(`${url} has sha256 ${sha}, not the pinned ${wheel.sha256}: not installing it`);
  }
  const { size } = await stat(dest);
  if (size !== wheel.size) throw new OperationError(`${url} is ${size} bytes, not ${wheel.size}`);
}

// A wheel is a zip. python3 is on nearly every Debian/Ubuntu/macOS machine; unzip is the
// fallback, installed with apt-get when we are root on Debian (as the sandbox does).
async function unzip(whl: string, dest: string): Promise<void> {
  const script = "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])";
  if (Bun.which("python3")) {
    await runOk(["python3", "-c", script, whl, dest], "unpacking zig with python3", { timeoutMs: 600_000 });
    return;
  }
  if (!Bun.which("unzip")) {
    const canApt = process.getuid?.() === 0 && existsSync("/etc/debian_version") && Bun.which("apt-get");
    if (!canApt) {
      throw new OperationError("unpacking zig needs python3 or unzip, and this machine has neither: install one (e.g. apt-get install unzip)");
    }
    const aptEnv = { DEBIAN_FRONTEND: "noninteractive" };
    await runOk(["apt-get", "update", "-q"], "apt-get update", { env: aptEnv, timeoutMs: 600_000 });
    await runOk(["apt-get", "install", "-y", "-q", "unzip"], "apt-get install unzip", { env: aptEnv, timeoutMs: 600_000 });
  }
  await runOk(["unzip", "-q", whl, "-d", dest], "unpacking zig with unzip", { timeoutMs: 600_000 });
}

function quoteForGo(word: string): string {
  const quoted = quoteGoWord(word);
  if (quoted === null) throw new OperationError(`zig's path ${JSON.stringify(word)} has both ' and " and spaces: go's CC cannot carry it`);
  return quoted;
}
