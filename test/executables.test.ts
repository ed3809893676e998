/**
 * The single executables (issue 27): scripts/build-executables.ts cross-compiles qdeploy for
 * linux-x64, linux-arm64, darwin-arm64 and darwin-x64 with a SHA256SUMS file; each is the
 * platform's kind of program (file(1)), the sums check, and the one for this machine runs.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildExecutables } from "../scripts/build-executables.ts";
import { requireTool } from "./tools.ts";

const out = mkdtempSync(path.join(tmpdir(), "qdeploy-exe-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

test("four targets, each its platform's executable, SHA256SUMS that checks, this machine's runs", async () => {
  const file = requireTool("file");
  const built = await buildExecutables(out);
  const kinds = Object.fromEntries(built.map((b) => [path.basename(b.file), Bun.spawnSync([file, "-b", b.file]).stdout.toString()]));
  expect(kinds["qdeploy-linux-x64"]).toStartWith("ELF 64-bit LSB executable, x86-64");
  expect(kinds["qdeploy-linux-arm64"]).toStartWith("ELF 64-bit LSB executable, ARM aarch64");
  expect(kinds["qdeploy-darwin-arm64"]).toStartWith("Mach-O 64-bit arm64 executable");
  expect(kinds["qdeploy-darwin-x64"]).toStartWith("Mach-O 64-bit x86_64 executable");
  const sums = Bun.spawnSync([requireTool("sha256sum"), "-c", "SHA256SUMS"], { cwd: out });
  expect(sums.stdout.toString().trim().split("\n").sort()).toEqual(["qdeploy-darwin-arm64: OK", "qdeploy-darwin-x64: OK", "qdeploy-linux-arm64: OK", "qdeploy-linux-x64: OK"]);
  for (const b of built) console.log(`${path.basename(b.file)}: ${(b.bytes / 1e6).toFixed(1)} MB`);
  // Bun's runtime is most of each (about 90-110 MB); qdeploy's own code, minified, a few MB.
  for (const b of built) expect(b.bytes).toBeLessThan(130e6);
  if (process.platform === "linux" && process.arch === "x64") {
    const v = Bun.spawnSync([path.join(out, "qdeploy-linux-x64"), "version"], { stdout: "pipe", stderr: "pipe" });
    expect(v.stdout.toString()).toMatch(/^qdeploy 0\.1\.0 \(bun \d/);
  }
}, 5 * 60_000);
