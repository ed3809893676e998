import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { zstdPatch } from "./zstd-patch.ts";

const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-zstd-patch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("zstdPatch", () => {
  if (!Bun.which("zstd")) throw new Error("these tests need the zstd CLI (apt-get install zstd)");
  const data = randomBytes(1 << 20);
  const base = path.join(dir, "aaaa");
  writeFileSync(base, data);
  data.write("a change", 4096);
  const file = path.join(dir, "bbbb");
  writeFileSync(file, data);

  test("made once per pair under patches/, and zstd applies it to the base", async () => {
    const [p, again] = await Promise.all([zstdPatch(file, base), zstdPatch(file, base)]);
    expect(p).toBe(path.join(dir, "patches", "bbbb.from-aaaa.zst"));
    expect(again).toBe(p);
    expect(statSync(p!).size).toBeLessThan(2000);
    const out = Bun.spawnSync(["zstd", "-dcq", `--patch-from=${base}`, p!]);
    expect(out.exitCode).toBe(0);
    expect(Buffer.compare(out.stdout, readFileSync(file))).toBe(0);
  });

  test("null when there is no local copy of the base", async () => {
    expect(await zstdPatch(file, path.join(dir, "cccc"))).toBeNull();
    expect(existsSync(path.join(dir, "patches", "bbbb.from-cccc.zst"))).toBe(false);
  });
});
