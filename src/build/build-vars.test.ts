import { describe, expect, test } from "bun:test";
import type { ResolvedConfig } from "../config/types.ts";
import { buildEnvironment, withInstallFlags, withLinkerVars } from "./build-vars.ts";

test.each([
  // [local, [env], expected]
  [{}, { GOVERSION: "go1.25" }, { GOVERSION: "go1.25" }], // [env] fills what the shell lacks
  [{ GOVERSION: "go1.24" }, { GOVERSION: "go1.25" }, { GOVERSION: "go1.24" }], // the shell wins
  [{ GOVERSION: "" }, { GOVERSION: "go1.25" }, { GOVERSION: "go1.25" }], // empty is unset
  [{}, { GOPRIVATE: "example.com/*", CGO_CFLAGS: "-O2", LOG_LEVEL: "info" }, { GOPRIVATE: "example.com/*", CGO_CFLAGS: "-O2" }], // only build variables
])("buildEnvironment(%o, %o)", (local, vars, expected) => {
  expect(buildEnvironment(local, vars)).toEqual(expected);
});

const build = (stamp: ResolvedConfig["build"]["stamp"], stampGiven?: boolean): ResolvedConfig["build"] => ({
  binary: "app",
  cgo: false,
  ldflags: "",
  tags: [],
  stamp,
  ...(stampGiven && { stampGiven }),
});
const DEFAULT = { symbol: "main.version", value: "{git.sha}" };

test.each([
  [build(DEFAULT), {}, DEFAULT],
  [build(DEFAULT), { GO_LINKER_SYMBOL: "main.commit" }, { symbol: "main.commit", value: "{git.sha}" }], // the value defaults to the commit
  [build(DEFAULT), { GO_LINKER_SYMBOL: "main.commit", GO_LINKER_VALUE: "v9" }, { symbol: "main.commit", value: "v9" }],
  [build({ symbol: "main.v", value: "x" }, true), { GO_LINKER_SYMBOL: "main.commit" }, { symbol: "main.v", value: "x" }], // build.stamp wins
])("withLinkerVars: %#", (b, env, stamp) => {
  expect(withLinkerVars(b, env).stamp).toEqual(stamp);
});

describe("withInstallFlags: the install spec's -tags and -ldflags where deploy.toml has no key", () => {
  const base = { ...build(DEFAULT), ldflags: "-s -w" };
  const spec = { patterns: ["."], source: "go.mod:4 // +heroku install", flags: { tags: ["postgres"], ldflags: "-X main.x=1" }, problems: [] };
  test.each([
    ["no keys: the install line's", base, spec, ["postgres"], "-X main.x=1"],
    ["build.tags written: the key wins", { ...base, tags: ["sqlite"], tagsGiven: true }, spec, ["sqlite"], "-X main.x=1"],
    ["build.ldflags written: the key wins", { ...base, ldflagsGiven: true }, spec, ["postgres"], "-s -w"],
    ["a spec without flags: the defaults", base, { ...spec, flags: {} }, [], "-s -w"],
  ] as const)("%s", (_name, b, s, tags, ldflags) => {
    const got = withInstallFlags(b as ResolvedConfig["build"], s);
    expect([got.tags, got.ldflags]).toEqual([[...tags], ldflags]);
  });
});
