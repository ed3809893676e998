/**
 * go.mod as the Go builders of Heroku and Qoddi read it: the module path, the `go` and
 * `toolchain` lines, and the `// +heroku ...` / `// +qoddi ...` comment directives; then
 * which Go version the module asks for and whether the local Go satisfies it. Pure.
 */

import { literalWord, parseCommand } from "../render/command.ts";

/** A value read from go.mod and the 1-based line it is on. */
export interface GoModValue {
  value: string;
  line: number;
}

/** What qdeploy reads from go.mod. Versions are kept as written. */
export interface GoMod {
  /** `module example.com/hello`; null when the line is missing. */
  module: string | null;
  /** `go 1.22` -> "1.22". */
  go: GoModValue | null;
  /** `toolchain go1.22.3` -> "go1.22.3". */
  toolchain: GoModValue | null;
  /** `// +qoddi goVersion go1.22` -> "go1.22". */
  qoddiGoVersion: GoModValue | null;
  /** `// +heroku goVersion go1.22` -> "go1.22". */
  herokuGoVersion: GoModValue | null;
  /** `// +heroku install -tags x ./cmd/... ./other`: its patterns, in order, and its flags (parseInstallSpec). */
  herokuInstall: (InstallSpec & { line: number }) | null;
}

/** The `go install` flags an install spec may give, as the `[build]` keys they stand for. */
export interface InstallFlags {
  tags?: string[];
  ldflags?: string;
}

/** An install spec (`// +heroku install`, GO_INSTALL_PACKAGE_SPEC) read as a shell line: packages, flags, and what qdeploy cannot honour. */
export interface InstallSpec {
  packages: string[];
  flags: InstallFlags;
  /** A flag with no [build] key, a flag without its value, quoting that does not parse. */
  problems: string[];
  /** The flags with no [build] key, as written (`-race`, `-gcflags=all=-N`): each is also a problem. */
  unknown: string[];
}

// go build's flags that take a value (`-gcflags all=-N`): a flag qdeploy refuses must not
// leave its value behind as a package pattern.
const VALUE_FLAGS = new Set(["C", "o", "p", "asmflags", "buildmode", "compiler", "covermode", "coverpkg", "gccgoflags", "gcflags", "installsuffix", "ldflags", "mod", "modfile", "overlay", "pgo", "pkgdir", "tags", "toolexec"]);
// What every qdeploy build does already, so saying it again changes nothing.
const ALWAYS = new Set(["trimpath", "trimpath=true", "v", "v=true", "buildvcs=false"]);

/**
 * Reads an install spec as Heroku's builder hands it to `go install`: shell words (quotes
 * removed: `-tags 'postgres'` is the tag postgres), then go's flags before or among the
 * packages. `-tags` and `-ldflags` (also `--x` and `-x=v`; the last one wins, as in go's flag
 * package) become build.tags and build.ldflags; `-trimpath`, `-v` and `-buildvcs=false` are
 * what qdeploy does anyway; any other flag is a problem naming it. No package means ".",
 * as `go install` alone builds the current folder. Pure.
 */
export function parseInstallSpec(text: string): InstallSpec {
  const spec: InstallSpec = { packages: [], flags: {}, problems: [], unknown: [] };
  let words: string[];
  try {
    words = parseCommand(text, "").map(literalWord);
  } catch (e) {
    spec.packages = ["."];
    spec.problems.push(`cannot be read as a shell line: ${(e as Error).message}`);
    return spec;
  }
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (!word.startsWith("-") || word === "-") {
      spec.packages.push(word);
      continue;
    }
    const flag = word.replace(/^--?/, "");
    if (ALWAYS.has(flag)) continue;
    const eq = flag.indexOf("=");
    const name = eq < 0 ? flag : flag.slice(0, eq);
    let value: string | undefined = eq < 0 ? undefined : flag.slice(eq + 1);
    if (value === undefined && VALUE_FLAGS.has(name)) {
      value = words[i + 1];
      if (value === undefined) {
        spec.problems.push(`-${name} needs a value`);
        continue;
      }
      i++;
    }
    // go splits -tags on commas, or on spaces when the value has any (go1.12's form).
    if (name === "tags") spec.flags.tags = value!.split(/[\s,]+/).filter(Boolean);
    else if (name === "ldflags") spec.flags.ldflags = value!;
    else {
      spec.unknown.push(value === undefined || eq >= 0 ? word : `${word} ${value}`);
      spec.problems.push(`-${name} has no [build] key in qdeploy; remove it (qdeploy builds with -trimpath -buildvcs=false and [build] tags and ldflags)`);
    }
  }
  if (!spec.packages.length) spec.packages = ["."];
  return spec;
}

/**
 * The Go version a build must use and where that came from, e.g.
 * `{ version: "go1.22", source: "go.mod:3 // +heroku goVersion", atLeast: false }`.
 * `version` is normalised to `goX.Y[.Z]`; `atLeast` is the matching rule (see checkToolchain).
 */
export interface GoVersionRequirement {
  version: string;
  source: string;
  /** true: this version or newer (`go`, `toolchain` lines); false: that release line. */
  atLeast: boolean;
}

const DIRECTIVE = /^\/\/\s*\+(heroku|qoddi)\s+(goVersion|install)\b\s*(.*)$/;

/** Parses go.mod text. Unknown lines and blocks (require, replace, ...) are skipped. */
export function parseGoMod(text: string): GoMod {
  const mod: GoMod = {
    module: null,
    go: null,
    toolchain: null,
    qoddiGoVersion: null,
    herokuGoVersion: null,
    herokuInstall: null,
  };
  const lines = text.split(/\r?\n/);
  let inBlock = false;
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const raw = lines[i]!.trim();

    // Directives are whole-line comments and may sit anywhere in the file (Heroku's
    // buildpack scans every line). The first of each kind wins, as it does there.
    const d = DIRECTIVE.exec(raw);
    if (d) {
      const [, tool, name, rest] = d as unknown as [string, "heroku" | "qoddi", string, string];
      const words = rest.split(/\s+/).filter(Boolean);
      if (name === "goVersion" && words[0]) {
        const key = tool === "heroku" ? "herokuGoVersion" : "qoddiGoVersion";
        mod[key] ??= { value: words[0], line };
      } else if (name === "install" && tool === "heroku" && words.length) {
        mod.herokuInstall ??= { ...parseInstallSpec(rest), line };
      }
      continue;
    }

    const code = stripComment(raw);
    // Skip the inside of require ( ... ), replace ( ... ) and other blocks.
    if (inBlock) {
      if (code === ")") inBlock = false;
      continue;
    }
    if (code.endsWith("(")) {
      inBlock = true;
      continue;
    }
    const m = /^(module|go|toolchain)\s+(\S+)$/.exec(code);
    if (!m) continue;
    const value = unquote(m[2]!);
    if (m[1] === "module") mod.module ??= value;
    else if (m[1] === "go") mod.go ??= { value, line };
    else mod.toolchain ??= { value, line };
  }
  return mod;
}

/**
 * The Go version the module asks for. Precedence, highest first: deploy.toml's build.go
 * (`buildGo`), the GOVERSION environment variable, `// +qoddi goVersion`, `// +heroku
 * goVersion`, the `toolchain` line, the `go` line. null when none is present (any local Go
 * is then acceptable).
 */
export function requiredGoVersion(
  mod: GoMod,
  env: Record<string, string | undefined>,
  buildGo?: string,
): GoVersionRequirement | null {
  if (buildGo?.trim()) return { version: normalise(buildGo.trim()), source: "build.go", atLeast: false };
  const fromEnv = env.GOVERSION?.trim();
  if (fromEnv) return { version: normalise(fromEnv), source: "GOVERSION", atLeast: false };
  if (mod.qoddiGoVersion) {
    return {
      version: normalise(mod.qoddiGoVersion.value),
      source: `go.mod:${mod.qoddiGoVersion.line} // +qoddi goVersion`,
      atLeast: false,
    };
  }
  if (mod.herokuGoVersion) {
    return {
      version: normalise(mod.herokuGoVersion.value),
      source: `go.mod:${mod.herokuGoVersion.line} // +heroku goVersion`,
      atLeast: false,
    };
  }
  if (mod.toolchain && mod.toolchain.value !== "default") {
    return { version: normalise(mod.toolchain.value), source: `go.mod:${mod.toolchain.line} toolchain`, atLeast: true };
  }
  if (mod.go) return { version: normalise(mod.go.value), source: `go.mod:${mod.go.line} go`, atLeast: true };
  return null;
}

/**
 * null when the local Go (a `go env GOVERSION` or `go version` output) satisfies
 * `required`, else one message: what is asked for and where, what is installed, what to do.
 *
 * The rule:
 * - `go` and `toolchain` lines (atLeast) mean "this version or newer", as Go itself reads
 *   them: `go 1.22` accepts 1.22.0, 1.22.5, 1.26.8; `go 1.22.3` accepts 1.22.3 and later.
 * - `+qoddi`/`+heroku goVersion` and GOVERSION pin a release: `go1.22` means that minor
 *   line (any 1.22.x, including its release candidates), `go1.22.3` exactly 1.22.3, as
 *   the hosted builders install exactly what is named. A newer Go is refused because
 *   the user asked for a specific toolchain, and the binary would differ from theirs.
 * A pin the local Go does not meet is fetched (src/build/toolchain.ts); a `go`/`toolchain`
 * line the local Go does not meet is reported with this message.
 */
export function checkToolchain(required: GoVersionRequirement | null, localVersion: string): string | null {
  if (!required) return null;
  const want = parseGoVersion(required.version);
  const have = parseGoVersion(localVersion);
  const installed = have ? formatVersion(have) : JSON.stringify(localVersion.trim());
  if (!want) {
    return (
      `${required.source} asks for Go ${JSON.stringify(required.version)}, which is not a Go version; ` +
      `write it as go1.22 (any 1.22.x) or go1.22.3 (exactly that release).`
    );
  }
  if (!have) {
    return `cannot tell which Go is installed: \`go env GOVERSION\` printed ${installed}. Install Go from https://go.dev/dl/.`;
  }
  if (required.atLeast ? compareGoVersions(have, want) >= 0 : sameRelease(have, want)) return null;

  const asked = required.atLeast
    ? `Go ${formatVersion(want).slice(2)} or newer`
    : want.patch === undefined && !want.pre
      ? `Go ${want.major}.${want.minor}.x`
      : `exactly Go ${formatVersion(want).slice(2)}`;
  // A pin the local Go misses is fetched (src/build/toolchain.ts): this only says it differs.
  if (!required.atLeast) return `${required.source} asks for ${asked}, but the local Go is ${installed}.`;
  const localPin = `go${have.major}.${have.minor}`;
  const install = `install Go ${formatVersion(want).slice(2)} or newer (https://go.dev/dl/) and put it first on PATH`;
  const fetch = `set [build] go = "go${want.major}.${want.minor}" to have qdeploy fetch that Go`;
  const todo = required.source.endsWith("toolchain")
    ? `${install}, or ${fetch}, or lower the toolchain line in go.mod, or set [build] go = "${localPin}" to build with the Go you have.`
    : `${install}, or ${fetch}, or lower the go line in go.mod if the module does not need ${formatVersion(want)}.`;
  return (
    `${required.source} asks for ${asked}, but the local Go is ${installed}. ` +
    `qdeploy fetches a Go only for a pin (build.go, goVersion, GOVERSION), not for this line: ${todo}`
  );
}

/** A Go release: go1.22 is {1, 22}, go1.22.3 {1, 22, 3}, go1.23rc1 {1, 23, pre: "rc1"}. */
export interface GoVersion {
  major: number;
  minor: number;
  patch?: number;
  pre?: string;
}

/**
 * Parses "go1.22.3", "1.22", "go1.23rc1", or finds the version inside `go version` output
 * ("go version go1.26.8 linux/amd64") and `go env GOVERSION` oddities ("go1.26.8 X:nodwarf5",
 * "devel go1.27-abcdef ..."). null when there is none.
 */
export function parseGoVersion(text: string): GoVersion | null {
  const t = text.trim();
  const exact = /^(?:go)?(\d+)\.(\d+)(?:\.(\d+))?((?:rc|beta)\d+)?$/.exec(t);
  const m = exact ?? /\bgo(\d+)\.(\d+)(?:\.(\d+))?((?:rc|beta)\d+)?(?![\d.])/.exec(t);
  if (!m) return null;
  const v: GoVersion = { major: Number(m[1]), minor: Number(m[2]) };
  if (m[3] !== undefined) v.patch = Number(m[3]);
  if (m[4]) v.pre = m[4];
  return v;
}

/** goX.Y[.Z][rcN], as go names releases. */
export function formatVersion(v: GoVersion): string {
  return `go${v.major}.${v.minor}${v.patch === undefined ? "" : `.${v.patch}`}${v.pre ?? ""}`;
}

/** goX.Y[.Z] when it parses; as written otherwise (checkToolchain reports it). */
function normalise(version: string): string {
  const v = parseGoVersion(version);
  return v ? formatVersion(v) : version;
}

// Orders releases as Go does: go1.22 (the language version) < go1.22rc1 < go1.22.0 < go1.22.1.
function key(v: GoVersion): number[] {
  if (v.pre) {
    const n = Number(/\d+$/.exec(v.pre)![0]);
    return [v.major, v.minor, 0, v.pre.startsWith("beta") ? 1 : 2, n];
  }
  if (v.patch === undefined) return [v.major, v.minor, 0, 0, 0];
  return [v.major, v.minor, v.patch, 3, 0];
}

/** Orders two releases as go does (<0, 0, >0). Pure. */
export function compareGoVersions(a: GoVersion, b: GoVersion): number {
  const ka = key(a);
  const kb = key(b);
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
  return 0;
}

function sameRelease(have: GoVersion, want: GoVersion): boolean {
  if (have.major !== want.major || have.minor !== want.minor) return false;
  if (want.patch === undefined && !want.pre) return true; // go1.22: any 1.22.x
  return compareGoVersions(have, want) === 0;
}

function stripComment(line: string): string {
  const i = line.indexOf("//");
  return (i < 0 ? line : line.slice(0, i)).trim();
}

function unquote(word: string): string {
  if (word.length >= 2 && (word[0] === '"' || word[0] === "`") && word.at(-1) === word[0]) {
    return word.slice(1, -1);
  }
  return word;
}
