/**
 * The packed npm package and a user's clean environment, for the tests that install it
 * (test/npm-package.test.ts, test/e2e/ci-recipe.test.ts).
 */
import { homedir } from "node:os";
import path from "node:path";
import { requireTool } from "./tools.ts";

export const REPO = path.resolve(import.meta.dir, "..");

/** npm, which comes with Node.js (the README's one requirement with Go): not a Debian tool to install. */
export function npm(): string {
  const found = Bun.which("npm");
  if (!found) throw new Error("this test needs npm, which is not installed (it comes with Node.js)");
  return found;
}

/** Runs argv; its stdout, or an error with its output. */
export function run(argv: string[], opts: { cwd: string; env?: Record<string, string> }): string {
  const r = Bun.spawnSync(argv, { cwd: opts.cwd, env: opts.env ?? process.env, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${r.exitCode}\n${r.stdout.toString()}\n${r.stderr.toString()}`);
  return r.stdout.toString();
}

export interface Packed {
  tarball: string;
  files: { path: string }[];
  size: number;
  unpackedSize: number;
}

/** `npm pack` of this checkout into `dest`. */
export function pack(dest: string): Packed {
  const [out] = JSON.parse(run([npm(), "pack", "--json", "--pack-destination", dest], { cwd: REPO }));
  return { ...out, tarball: path.join(dest, out.filename) };
}

/**
 * A user's environment with nothing of this machine's qdeploy, Bun, npm run or Go settings:
 * PATH is `bin` first, then node's, go's and the system's folders; HOME is `home`. The
 * machine's network settings (a CA bundle, a proxy) stay, and so do npm's and Go's caches
 * (downloads and compiled packages, not qdeploy's state).
 */
export function cleanEnv(home: string, bin: string): Record<string, string> {
  const go = requireTool("go");
  const goEnv = (name: string) => run([go, "env", name], { cwd: REPO }).trim();
  const PATH = [bin, path.dirname(requireTool("node")), path.dirname(go), "/usr/local/bin", "/usr/bin", "/bin"].join(":");
  const kept = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => v !== undefined && !/^(HOME|PATH|XDG_.*|npm_.*|BUN_.*|QDEPLOY_.*|GO.*|GITHUB_.*|RUNNER_.*)$/i.test(k))) as Record<string, string>;
  return { ...kept, PATH, HOME: home, npm_config_cache: process.env.npm_config_cache || path.join(homedir(), ".npm"), GOCACHE: goEnv("GOCACHE"), GOMODCACHE: goEnv("GOMODCACHE"), NO_COLOR: "1" };
}
