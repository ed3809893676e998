import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { helloConfig } from "../../test/fixtures/config.ts";
import { buildKey, findCachedBuild, rememberBuild } from "./cache.ts";
import { gitInfo } from "./git.ts";

const amd64 = { goos: "linux", goarch: "amd64" } as const;
const clean = { sha: "a".repeat(40), dirty: false };

test("only a clean commit has a build key, and every input changes it", () => {
  const k = buildKey(clean, helloConfig.build, amd64, "go1.26.8", {});
  expect(k).toMatch(/^[0-9a-f]{64}$/);
  expect(buildKey({ ...clean, dirty: true }, helloConfig.build, amd64, "go1.26.8", {})).toBeNull();
  expect(buildKey({ sha: null, dirty: false }, helloConfig.build, amd64, "go1.26.8", {})).toBeNull();
  const others = [
    buildKey({ ...clean, sha: "b".repeat(40) }, helloConfig.build, amd64, "go1.26.8", {}),
    buildKey(clean, { ...helloConfig.build, ldflags: "" }, amd64, "go1.26.8", {}),
    buildKey(clean, helloConfig.build, { goos: "linux", goarch: "arm64" }, "go1.26.8", {}),
    buildKey(clean, helloConfig.build, amd64, "go1.26.9", {}),
    buildKey(clean, helloConfig.build, amd64, "go1.26.8", { GOFLAGS: "-tags=x" }),
  ];
  expect(new Set([k, ...others]).size).toBe(6);
});

test("a remembered build is found while its file exists", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "qd-cache-"));
  const sha256 = "c".repeat(64);
  expect(await findCachedBuild(dir, "k")).toBeNull();
  await rememberBuild(dir, "k", { sha256, size: 3 });
  expect(await findCachedBuild(dir, "k")).toBeNull(); // no artifact file yet
  writeFileSync(path.join(dir, sha256), "bin");
  expect(await findCachedBuild(dir, "k")).toEqual({ sha256, size: 3 });
  expect(await findCachedBuild(dir, null)).toBeNull();
});

test("editing deploy.toml or secrets leaves the source clean", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "qd-git-"));
  const git = (...a: string[]) => Bun.spawnSync(["git", "-c", "user.email=t@t", "-c", "user.name=t", ...a], { cwd: dir });
  git("init", "-q");
  writeFileSync(path.join(dir, "main.go"), "package main\n");
  writeFileSync(path.join(dir, "deploy.toml"), 'app = "x"\n');
  git("add", ".");
  git("commit", "-qm", "x");
  writeFileSync(path.join(dir, "deploy.toml"), 'app = "y"\n');
  const ignore = [path.join(dir, "deploy.toml"), path.join(dir, "secrets")];
  expect((await gitInfo(dir, ignore)).dirty).toBe(false);
  expect((await gitInfo(dir)).dirty).toBe(true);
  writeFileSync(path.join(dir, "main.go"), "package main // changed\n");
  expect((await gitInfo(dir, ignore)).dirty).toBe(true);
});
