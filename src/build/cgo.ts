/**
 * Which packages of a build have C code (cgo). With cgo off go leaves a package's cgo files
 * out without a word: mattn/go-sqlite3 then compiles a stub whose every query fails, so
 * `check` names such packages before a build (src/config/check-packages.ts). The argv,
 * environment and message are pure; cgoPackages runs `go list`.
 */
import { usesVendor } from "./packages.ts";

/**
 * `go list -deps` of the programs, printing each package outside the standard library that
 * has cgo files (the standard library's own cgo, net and os/user, has pure-Go fallbacks).
 * -e: a package go cannot load is skipped here; the build reports it.
 */
export function cgoListArgs(pkgs: string[], tags: string[] = [], vendor = false): string[] {
  return [
    "list",
    "-deps",
    "-e",
    ...(vendor ? ["-mod=vendor"] : []),
    ...(tags.length ? ["-tags", tags.join(",")] : []),
    "-f",
    "{{if and (not .Standard) .CgoFiles}}{{.ImportPath}}{{end}}",
    "--",
    ...pkgs,
  ];
}

/**
 * The environment for cgoListArgs: CGO_ENABLED=1, or go would hide the very files asked
 * about; the servers' OS; amd64 (which C a package has rarely depends on the CPU);
 * GOTOOLCHAIN as given ("local": never a toolchain download from here).
 */
export function cgoListEnv(base: Record<string, string | undefined>, gotoolchain = "local"): Record<string, string> {
  const env = Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined));
  return { ...env, CGO_ENABLED: "1", GOOS: "linux", GOARCH: "amd64", GOTOOLCHAIN: gotoolchain };
}

/** The package names from cgoListArgs's output, each once, in go's order. Pure. */
export function parseCgoList(stdout: string): string[] {
  return [...new Set(stdout.split("\n").map((l) => l.trim()).filter(Boolean))];
}

/**
 * What `check` says when cgo is off (not written) and the build has packages with C code:
 * which ones, what happens, and the two ways out. Pure.
 */
export function cgoProblem(packages: string[]): string {
  const which = packages.length === 1 ? `${packages[0]} has` : `${packages.slice(0, -1).join(", ")} and ${packages.at(-1)} have`;
  return (
    `${which} C code (cgo), which a build with cgo off leaves out, so the program may fail when it runs ` +
    `(mattn/go-sqlite3, for one, builds a stub that fails every query). Set cgo = true (qdeploy compiles the C with ` +
    `zig: still one static file), or write cgo = false to build without it.`
  );
}

/**
 * The non-standard packages with C code that building `pkgs` (import paths or .go files)
 * in `moduleDir` compiles; null when go could not list them (no go, a go.mod for a newer
 * Go): the build reports that in its own words. Dependencies not yet in the module cache
 * are downloaded, as the build would; a vendor/ is read instead.
 */
export async function cgoPackages(
  moduleDir: string,
  pkgs: string[],
  env: Record<string, string | undefined>,
  tags: string[] = [],
  gotoolchain = "local",
): Promise<string[] | null> {
  let proc;
  try {
    proc = Bun.spawn(["go", ...cgoListArgs(pkgs, tags, usesVendor(moduleDir))], { cwd: moduleDir, env: cgoListEnv(env, gotoolchain), stdout: "pipe", stderr: "pipe" });
  } catch {
    return null;
  }
  const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0 && !stdout.trim()) return null;
  return parseCgoList(stdout);
}
