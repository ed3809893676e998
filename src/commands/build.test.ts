import { expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import type { Output } from "../output.ts";
import { buildForArchs } from "./build.ts";

// A real (warm-cache) build: the [env] table's GO_LINKER_SYMBOL/VALUE reach the binary, unless deploy.toml has build.stamp.
test("GO_LINKER_SYMBOL/VALUE from [env] stamp the binary; deploy.toml's build.stamp wins", async () => {
  const root = mkdtempSync(join(tmpdir(), "qdeploy-vars-"));
  writeFileSync(join(root, "go.mod"), "module example.com/v\n\ngo 1.22\n");
  writeFileSync(join(root, "main.go"), 'package main\n\nimport "fmt"\n\nvar commit = "none"\n\nfunc main() { fmt.Println(commit) }\n');
  const lines: string[] = [];
  const out = { info: (l: string) => lines.push(l), debug: () => {}, progress: () => {} } as unknown as Output;
  const cfg = (stamp: ResolvedConfig["build"]["stamp"], stampGiven?: true) =>
    ({
      root,
      vars: { GO_LINKER_SYMBOL: "main.commit", GO_LINKER_VALUE: "from-env" },
      build: { dir: root, main: ".", binary: "v", cgo: false, ldflags: "-s -w", tags: [], stamp, ...(stampGiven ? { stampGiven } : {}) },
    }) as unknown as ResolvedConfig;
  const run = async (c: ResolvedConfig) => execFileSync((await buildForArchs(c, ["x86_64"], out)).artifacts.x86_64!.binaries.v!.path, { encoding: "utf8" }).trim();

  expect(await run(cfg({ symbol: "main.version", value: "{git.sha}" }))).toBe("from-env");
  expect(await run(cfg({ symbol: "main.commit", value: "toml" }, true))).toBe("toml");
  expect(lines.some((l) => /^built v for linux\/amd64 .*\(go1\.\d+\.\d+\)$/.test(l))).toBe(true); // says which Go built it
}, 180_000);
