/**
 * A binary as a zstd patch against an older one the host already has (`zstd --patch-from`):
 * most of a Go binary is the runtime and the libraries, the same from one build to the next,
 * so a push that changes a few functions sends kilobytes to a few hundred, not the whole
 * compressed binary. Made with the zstd CLI (Node's zstd has no patch mode), once per pair
 * (a fleet's hosts share it), under the build folder's `patches/`.
 */
import { existsSync, statSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";

/**
 * The largest file sent as a patch: zstd's default decompression window, so the host needs no
 * `--memory` (a window over it fails there) and no more memory than a plain zstd stream.
 */
export const PATCH_MAX_BYTES = 128 * 1024 * 1024;

/** The level of the plain stream (Node's zstd default): fast enough not to be what a push waits for. */
const LEVEL = "-3";

const made = new Map<string, Promise<string | null>>();

/**
 * The path of `file` as a patch against `base` (made now, or earlier for the same pair), or null
 * when it cannot be: no zstd CLI here, no local copy of the base, a file over PATCH_MAX_BYTES,
 * or zstd failed (the caller then sends the whole file).
 */
export function zstdPatch(file: string, base: string): Promise<string | null> {
  const out = path.join(path.dirname(file), "patches", `${path.basename(file)}.from-${path.basename(base)}.zst`);
  let p = made.get(out);
  if (!p) {
    p = makePatch(file, base, out).catch(() => null);
    made.set(out, p);
    // A failure is not remembered: the next push tries again (zstd may be installed by then).
    p.then((r) => {
      if (!r) made.delete(out);
    });
  }
  return p;
}

async function makePatch(file: string, base: string, out: string): Promise<string | null> {
  if (existsSync(out)) return out;
  const zstd = Bun.which("zstd");
  if (!zstd || !existsSync(base) || statSync(file).size > PATCH_MAX_BYTES || statSync(base).size > PATCH_MAX_BYTES) return null;
  await mkdir(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  const proc = Bun.spawn([zstd, "-q", LEVEL, "-f", `--patch-from=${base}`, file, "-o", tmp], { stdout: "ignore", stderr: "pipe" });
  if ((await proc.exited) !== 0) {
    await rm(tmp, { force: true });
    return null;
  }
  await rename(tmp, out);
  return out;
}
