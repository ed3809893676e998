import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { GoVersionRequirement } from "./gomod.ts";
import { parseGoVersion } from "./gomod.ts";
import { chooseToolchain, fetchedToolchains, listedVersions, pickRelease, proxyUrl, toolchainList, type ToolchainList } from "./toolchain.ts";

const LIST = [
  "v0.0.1-go1.25.0.linux-amd64",
  "v0.0.1-go1.25.3.linux-amd64",
  "v0.0.1-go1.25.14.linux-amd64",
  "v0.0.1-go1.25.15.darwin-arm64",
  "v0.0.1-go1.26rc2.linux-amd64",
  "v0.0.1-go1.26.0.linux-amd64",
  "v0.0.1-go1.27rc1.linux-amd64",
  "v0.0.1-go1.21.0.linux-amd64",
].join("\n");
const listed: ToolchainList = { versions: listedVersions(LIST, "linux-amd64"), from: "proxy" };

test("listedVersions: this platform's releases, named as go names them", () => {
  expect(listed.versions).toEqual(["go1.25.0", "go1.25.3", "go1.25.14", "go1.26rc2", "go1.26.0", "go1.27rc1", "go1.21.0"]);
});

describe("pickRelease", () => {
  test.each([
    ["go1.25", "go1.25.14"], // a line: its newest release, by number (14 > 3)
    ["go1.25.3", "go1.25.3"], // exactly that
    ["go1.25.4", null], // not listed
    ["go1.26", "go1.26.0"], // a release candidate is not a release of the line
    ["go1.27", null], // only an rc so far
    ["go1.27rc1", "go1.27rc1"], // asked for by name
    ["go1.24", null],
  ])("%s -> %s", (want, got) => {
    expect(pickRelease(parseGoVersion(want)!, listed.versions)).toBe(got);
  });
});

describe("chooseToolchain", () => {
  const pin = (version: string, source = "go.mod:1 // +heroku goVersion"): GoVersionRequirement => ({ version, source, atLeast: false });
  const line = (version: string): GoVersionRequirement => ({ version, source: "go.mod:3 go", atLeast: true });
  const floor = line("1.13");

  test.each([
    // [required, local, list, expected GOTOOLCHAIN or a problem's start]
    [null, "go1.26.8", null, "local"],
    [line("1.22"), "go1.26.8", null, "local"],
    [pin("go1.25"), "go1.26.8", listed, "go1.25.14"],
    [pin("go1.25"), "go1.25.14", listed, "local"], // the local Go is that release
    [pin("go1.25"), "go1.25.3", listed, "go1.25.14"], // the line's newest, not whatever is installed
    [pin("go1.25.3", "GOVERSION"), "go1.26.8", null, "go1.25.3"], // exact: no list needed
    [pin("go1.25"), "go1.25.3", null, "local"], // offline with nothing known: the local Go still fits the line
    // Before 1.21 no toolchain module exists: a Go of 1.21 or later builds it (Go's compatibility promise), the release itself too.
    [pin("go1.19"), "go1.26.8", listed, "local"],
    [pin("go1.19"), "go1.19.13", listed, "local"],
    [pin("go1.19"), "go1.20.5", listed, "problem: go.mod:1 // +heroku goVersion go1.19: Go releases before 1.21 are not published as toolchain modules, and the local Go (go1.20.5) is older than 1.21 too"],
    [pin("go1.25.4"), "go1.26.8", listed, "problem: go.mod:1 // +heroku goVersion go1.25.4: no such Go release is published"], // exact, and the proxy does not list it
    [pin("go1.24"), "go1.26.8", listed, "problem: go.mod:1 // +heroku goVersion go1.24: no such Go release is published"],
    [pin("go1.25"), "go1.26.8", null, "problem: go.mod:1 // +heroku goVersion go1.25: the Go module proxy did not answer and no go1.25 toolchain was fetched before"],
    [line("1.99"), "go1.26.8", null, "problem: go.mod:3 go asks for Go 1.99 or newer"],
  ] as const)("%o with %s", (required, local, list, expected) => {
    const choice = chooseToolchain(required, local, list, floor);
    if (expected.startsWith("problem: ")) expect("problem" in choice && choice.problem).toStartWith(expected.slice(9));
    else expect("gotoolchain" in choice && choice.gotoolchain).toBe(expected);
  });

  test("the go line is a floor for any pin, applied before anything is refused", () => {
    // A pin below it gives way to it, with a note; the go line then uses the local Go, as always.
    expect(chooseToolchain(pin("go1.16"), "go1.26.8", listed, line("1.23"))).toEqual({
      version: "go1.26.8",
      gotoolchain: "local",
      reason: "go.mod:3 go 1.23: the local Go",
      note: "go.mod:1 // +heroku goVersion go1.16 is older than go.mod:3 go 1.23, which wins: building with the local go1.26.8",
    });
    expect(chooseToolchain(pin("go1.25"), "go1.26.8", listed, line("1.26"))).toMatchObject({ gotoolchain: "local", note: expect.stringContaining("go1.25 is older than go.mod:3 go 1.26, which wins") });
    expect(chooseToolchain(pin("go1.25.3"), "go1.26.8", listed, line("1.25.4"))).toMatchObject({ gotoolchain: "local" });
    // When the local Go is below the go line too, that is the problem, and it says the pin gave way.
    const refused = chooseToolchain(pin("go1.16"), "go1.22.1", listed, line("1.23"));
    expect("problem" in refused && refused.problem).toStartWith(
      "go.mod:1 // +heroku goVersion go1.16 is older than go.mod:3 go 1.23, which wins: go.mod:3 go asks for Go 1.23 or newer, but the local Go is go1.22.1.",
    );
    // A line that reaches the go line keeps its newest release, which must reach it too.
    expect(chooseToolchain(pin("go1.25"), "go1.26.8", listed, line("1.25.20"))).toEqual({ problem: "go.mod:1 // +heroku goVersion go1.25 picks go1.25.14, but go.mod:3 go needs Go 1.25.20 or newer: raise the pin or lower the go line." });
  });

  test("a pin before Go 1.21 says in one line which Go builds it", () => {
    expect(chooseToolchain(pin("go1.14"), "go1.26.8", listed, line("1.14"))).toEqual({
      version: "go1.26.8",
      gotoolchain: "local",
      reason: "go.mod:1 // +heroku goVersion go1.14",
      note: "go.mod:1 // +heroku goVersion go1.14: Go releases before 1.21 are not published as toolchain modules; building with the local go1.26.8, which builds go1.14 code by Go's compatibility promise",
    });
    expect(chooseToolchain(pin("go1.16"), "go1.20.5", listed, null)).toEqual({
      problem:
        "go.mod:1 // +heroku goVersion go1.16: Go releases before 1.21 are not published as toolchain modules, and the local Go (go1.20.5) is older than 1.21 too: " +
        "install Go 1.21 or newer (it builds go1.16 code, by Go's compatibility promise) or go1.16 itself (https://go.dev/dl/) and put it first on PATH.",
    });
  });

  test("the choice says why", () => {
    expect(chooseToolchain(pin("go1.25"), "go1.26.8", listed, floor)).toEqual({
      version: "go1.25.14",
      gotoolchain: "go1.25.14",
      reason: "go.mod:1 // +heroku goVersion go1.25",
    });
  });
});

test.each([
  [undefined, "https://proxy.golang.org"],
  ["https://goproxy.example/,direct", "https://goproxy.example"],
  ["direct", null],
  ["off", null],
  ["direct|https://p.example", "https://p.example"],
])("proxyUrl(%p) = %p", (goproxy, url) => {
  expect(proxyUrl(goproxy)).toBe(url);
});

describe("toolchainList", () => {
  const platform = `${process.platform}-${process.arch === "x64" ? "amd64" : process.arch}`;

  test("reads the proxy once, then remembers; offline it falls back to what is remembered", async () => {
    const cache = mkdtempSync(path.join(tmpdir(), "qd-tc-"));
    let calls = 0;
    const proxy = (async () => {
      calls++;
      return new Response(`v0.0.1-go1.25.14.${platform}\nv0.0.1-go1.25.3.${platform}\n`);
    }) as unknown as typeof fetch;
    const env = { XDG_CACHE_HOME: cache, GOPROXY: "https://p.example" };
    expect(await toolchainList(env, cache, proxy)).toEqual({ versions: ["go1.25.14", "go1.25.3"], from: "proxy" });
    expect(await toolchainList(env, cache, proxy)).toEqual({ versions: ["go1.25.14", "go1.25.3"], from: "proxy" });
    expect(calls).toBe(1);
    // Another proxy is asked afresh; when it does not answer, the remembered list serves.
    const down = (async () => {
      throw new Error("offline");
    }) as unknown as typeof fetch;
    expect(await toolchainList({ ...env, GOPROXY: "https://q.example" }, cache, down)).toEqual({ versions: ["go1.25.14", "go1.25.3"], from: "cache" });
  });

  test("offline with nothing remembered: the toolchains go fetched before", async () => {
    const cache = mkdtempSync(path.join(tmpdir(), "qd-tc-"));
    const modCache = mkdtempSync(path.join(tmpdir(), "qd-modcache-"));
    mkdirSync(path.join(modCache, "golang.org", `toolchain@v0.0.1-go1.25.7.${platform}`), { recursive: true });
    mkdirSync(path.join(modCache, "golang.org", "toolchain@v0.0.1-go1.25.9.other-arch"), { recursive: true });
    expect(fetchedToolchains(modCache)).toEqual(["go1.25.7"]);
    const down = (async () => new Response("", { status: 503 })) as unknown as typeof fetch;
    expect(await toolchainList({ XDG_CACHE_HOME: cache }, modCache, down)).toEqual({ versions: ["go1.25.7"], from: "module cache" });
    expect(await toolchainList({ XDG_CACHE_HOME: mkdtempSync(path.join(tmpdir(), "qd-tc-")) }, mkdtempSync(path.join(tmpdir(), "qd-empty-")), down)).toBeNull();
  });
});
