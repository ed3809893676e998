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
    buildKey(clean, helloConfig.build, amd64, "go1.26.8", {}, ["example.com/x/cmd/web web"]),
  ];
  expect(new Set([k, ...others]).size).toBe(7);
  // The names known after expansion are an output of the build, not an input.
  expect(buildKey(clean, { ...helloConfig.build, binaries: ["web"] }, amd64, "go1.26.8", {})).toBe(k);
});

test("a remembered build is found while every binary's file exists", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "qd-cache-"));
  const [web, worker] = ["c".repeat(64), "d".repeat(64)];
  const built = { binaries: { web: { sha256: web, size: 3 }, worker: { sha256: worker, size: 4 } } };
  expect(await findCachedBuild(dir, "k")).toBeNull();
  await rememberBuild(dir, "k", built);
  expect(await findCachedBuild(dir, "k")).toBeNull(); // no artifact file yet
  writeFileSync(path.join(dir, web), "bin");
  expect(await findCachedBuild(dir, "k")).toBeNull(); // one of two
  writeFileSync(path.join(dir, worker), "bin2");
  expect(await findCachedBuild(dir, "k")).toEqual(built);
  expect(await findCachedBuild(dir, null)).toBeNull();
});

test("an index entry of an older version (one sha256) is a miss, not a crash", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "qd-cache-"));
  const sha256 = "e".repeat(64);
  writeFileSync(path.join(dir, sha256), "bin");
  writeFileSync(path.join(dir, "index.json"), JSON.stringify({ k: { sha256, size: 3 } }));
  expect(await findCachedBuild(dir, "k")).toBeNull();
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
