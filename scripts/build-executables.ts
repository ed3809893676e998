/**
 * `npm run build:all [-- --out DIR] [TARGET...]`: qdeploy as one self-contained executable per
 * platform (`bun build --compile`, which cross-compiles: it fetches the target's Bun runtime
 * once), minified, named qdeploy-OS-ARCH, with a SHA256SUMS file beside them (`sha256sum -c`
 * format). Targets: linux-x64, linux-arm64, darwin-arm64, darwin-x64 (default: all).
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

const REPO = path.resolve(import.meta.dir, "..");

/** Each platform's name and Bun's compile target for it. */
export const TARGETS: Record<string, string> = {
  "linux-x64": "bun-linux-x64",
  "linux-arm64": "bun-linux-arm64",
  "darwin-arm64": "bun-darwin-arm64",
  "darwin-x64": "bun-darwin-x64",
};

/** Builds each target into `out`; the files written, with their sizes and sha256. */
export async function buildExecutables(out: string, targets: string[] = Object.keys(TARGETS)): Promise<{ file: string; bytes: number; sha256: string }[]> {
  for (const t of targets) if (!TARGETS[t]) throw new Error(`unknown target ${t} (targets: ${Object.keys(TARGETS).join(", ")})`);
  mkdirSync(out, { recursive: true });
  const built: { file: string; bytes: number; sha256: string }[] = [];
  for (const t of targets) {
    const file = path.join(out, `qdeploy-${t}`);
    // --no-compile-autoload-dotenv: a compiled qdeploy must not read the app folder's .env (bin/qdeploy's --no-env-file).
    const argv = [process.execPath, "build", "--compile", "--minify", "--no-compile-autoload-dotenv", `--target=${TARGETS[t]}`, path.join(REPO, "src/cli.ts"), "--outfile", file];
    const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`bun build for ${t} exited ${r.exitCode}: ${r.stderr.toString().slice(-2000)}`);
    built.push({ file, bytes: statSync(file).size, sha256: createHash("sha256").update(readFileSync(file)).digest("hex") });
  }
  writeFileSync(path.join(out, "SHA256SUMS"), built.map((b) => `${b.sha256}  ${path.basename(b.file)}\n`).join(""));
  return built;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--out");
  const out = at >= 0 ? path.resolve(args[at + 1] ?? "") : path.join(REPO, "dist");
  const targets = args.filter((a, i) => a !== "--out" && i !== at + 1);
  for (const b of await buildExecutables(out, targets.length ? targets : undefined)) {
    console.log(`${path.relative(process.cwd(), b.file)}  ${(b.bytes / 1e6).toFixed(1)} MB  sha256 ${b.sha256.slice(0, 12)}`);
  }
  console.log(`${path.relative(process.cwd(), path.join(out, "SHA256SUMS"))}`);
}
