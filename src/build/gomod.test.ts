import { describe, expect, test } from "bun:test";
import {
  checkToolchain,
  parseGoMod,
  parseInstallSpec,
  parseGoVersion,
  requiredGoVersion,
  type GoMod,
  type GoVersionRequirement,
} from "./gomod.ts";

const empty: GoMod = {
  module: null,
  go: null,
  toolchain: null,
  qoddiGoVersion: null,
  herokuGoVersion: null,
  herokuInstall: null,
};

describe("parseGoMod", () => {
  const cases: [string, string, GoMod][] = [
    ["empty file", "", empty],
    [
      "module and go line",
      "module example.com/hello\n\ngo 1.22\n",
      { ...empty, module: "example.com/hello", go: { value: "1.22", line: 3 } },
    ],
    [
      "toolchain, trailing comments, CRLF, quoted module",
      'module "example.com/q" // old style\r\n\r\ngo 1.22.3 // language\r\ntoolchain go1.23.1\r\n',
      {
        ...empty,
        module: "example.com/q",
        go: { value: "1.22.3", line: 3 },
        toolchain: { value: "go1.23.1", line: 4 },
      },
    ],
    [
      "heroku directives before the module line (as real apps write them)",
      "// +heroku goVersion go1.13.8\n// +heroku install ./cmd/... ./other\n\nmodule github.com/x/y\n\ngo 1.12\n",
      {
        ...empty,
        module: "github.com/x/y",
        go: { value: "1.12", line: 6 },
        herokuGoVersion: { value: "go1.13.8", line: 1 },
        herokuInstall: { packages: ["./cmd/...", "./other"], flags: {}, problems: [], unknown: [], line: 2 },
      },
    ],
    [
      "qoddi and heroku together, indented, extra spaces, after require blocks",
      [
        "module m",
        "require (",
        "\tgolang.org/x/net v0.1.0 // indirect",
        "\tgo 1.99 // inside a block, so not the go line",
        ")",
        "go 1.21",
        "   //   +qoddi   goVersion   go1.22   ",
        "// +heroku goVersion go1.20",
      ].join("\n"),
      {
        ...empty,
        module: "m",
        go: { value: "1.21", line: 6 },
        qoddiGoVersion: { value: "go1.22", line: 7 },
        herokuGoVersion: { value: "go1.20", line: 8 },
      },
    ],
    [
      "the first of each directive wins; empty directives and other tools are ignored",
      "// +heroku goVersion\n// +heroku goVersion go1.19\n// +heroku goVersion go1.18\n// +heroku install\n// +dokku goVersion go1.1\n// +herokuish goVersion go1.2\n",
      { ...empty, herokuGoVersion: { value: "go1.19", line: 2 } },
    ],
    [
      "a directive must be a whole-line comment, not a trailing one",
      "module m // +heroku goVersion go1.16\ngo 1.16 // +qoddi goVersion go1.17\n",
      { ...empty, module: "m", go: { value: "1.16", line: 2 } },
    ],
    [
      "lookalike keywords are not directives",
      "gopher 1.2\ntoolchains go1.2\nmodules x\n",
      empty,
    ],
  ];
  for (const [name, text, want] of cases) {
    test(name, () => expect(parseGoMod(text)).toEqual(want));
  }
});

describe("parseInstallSpec: an install line read as the shell line it is", () => {
  test.each([
    // Heroku's own example: the quotes are the shell's, the flag is build.tags.
    ["-tags 'postgres' github.com/golang-migrate/migrate/v4/cmd/migrate .", ["github.com/golang-migrate/migrate/v4/cmd/migrate", "."], { tags: ["postgres"] }, []],
    ['-tags=a,b -ldflags "-s -w -X main.v=1" ./cmd/...', ["./cmd/..."], { tags: ["a", "b"], ldflags: "-s -w -X main.v=1" }, []],
    ['--tags "a b" --ldflags=-w ./cmd/web', ["./cmd/web"], { tags: ["a", "b"], ldflags: "-w" }, []],
    ["-tags a -tags b .", ["."], { tags: ["b"] }, []], // the last one wins, as in go's flag package
    ['-tags "" .', ["."], { tags: [] }, []],
    // What qdeploy always does anyway.
    ["-trimpath -v -buildvcs=false ./cmd/web", ["./cmd/web"], {}, []],
    // Flags alone build the module's root, as `go install` with no package does.
    ["-tags x", ["."], { tags: ["x"] }, []],
    ["./cmd/admin/main.go", ["./cmd/admin/main.go"], {}, []],
    // A flag with no [build] key is named; a value it takes is not read as a package.
    [
      "-gcflags all=-N -race ./cmd/web",
      ["./cmd/web"],
      {},
      [
        "-gcflags has no [build] key in qdeploy; remove it (qdeploy builds with -trimpath -buildvcs=false and [build] tags and ldflags)",
        "-race has no [build] key in qdeploy; remove it (qdeploy builds with -trimpath -buildvcs=false and [build] tags and ldflags)",
      ],
    ],
    ["./cmd/web -tags", ["./cmd/web"], {}, ["-tags needs a value"]],
    ["-tags 'x ./cmd/web", ["."], {}, ["cannot be read as a shell line: unterminated ' in \"-tags 'x ./cmd/web\""]],
  ] as const)("%s", (text, packages, flags, problems) => {
    const { unknown: _unknown, ...spec } = parseInstallSpec(text);
    expect(spec).toEqual({ packages: [...packages], flags: flags as never, problems: [...problems] });
  });

  test("the flags with no key, as written, for init to name", () => {
    expect(parseInstallSpec("-gcflags all=-N -race -asmflags=-S -tags x .").unknown).toEqual(["-gcflags all=-N", "-race", "-asmflags=-S"]);
  });

  test("parseGoMod reads the install line's flags", () => {
    const mod = parseGoMod("module m\n// +heroku install -tags 'postgres' github.com/golang-migrate/migrate/v4/cmd/migrate .\ngo 1.22\n");
    expect(mod.herokuInstall).toEqual({ packages: ["github.com/golang-migrate/migrate/v4/cmd/migrate", "."], flags: { tags: ["postgres"] }, problems: [], unknown: [], line: 2 });
  });
});

describe("requiredGoVersion", () => {
  const full = parseGoMod(
    "module m\n\ngo 1.21\ntoolchain go1.21.4\n// +heroku goVersion go1.22\n// +qoddi goVersion go1.23\n",
  );
  const cases: [string, GoMod, Record<string, string | undefined>, GoVersionRequirement | null][] = [
    ["GOVERSION beats everything", full, { GOVERSION: "go1.24" }, { version: "go1.24", source: "GOVERSION", atLeast: false }],
    ["GOVERSION without the go prefix is normalised", full, { GOVERSION: " 1.24.2 " }, { version: "go1.24.2", source: "GOVERSION", atLeast: false }],
    ["an empty GOVERSION is ignored", full, { GOVERSION: "" }, { version: "go1.23", source: "go.mod:6 // +qoddi goVersion", atLeast: false }],
    [
      "+heroku when there is no +qoddi",
      { ...full, qoddiGoVersion: null },
      {},
      { version: "go1.22", source: "go.mod:5 // +heroku goVersion", atLeast: false },
    ],
    [
      "toolchain when there is no directive",
      { ...full, qoddiGoVersion: null, herokuGoVersion: null },
      {},
      { version: "go1.21.4", source: "go.mod:4 toolchain", atLeast: true },
    ],
    [
      "toolchain default means none",
      { ...full, qoddiGoVersion: null, herokuGoVersion: null, toolchain: { value: "default", line: 4 } },
      {},
      { version: "go1.21", source: "go.mod:3 go", atLeast: true },
    ],
    [
      "the go line last",
      parseGoMod("module m\n\ngo 1.22\n"),
      {},
      { version: "go1.22", source: "go.mod:3 go", atLeast: true },
    ],
    ["nothing at all", empty, {}, null],
    [
      "an unparseable directive is kept as written",
      parseGoMod("// +heroku goVersion latest\n"),
      {},
      { version: "latest", source: "go.mod:1 // +heroku goVersion", atLeast: false },
    ],
  ];
  for (const [name, mod, env, want] of cases) {
    test(name, () => expect(requiredGoVersion(mod, env)).toEqual(want));
  }
  test("build.go beats GOVERSION, and is a pin", () => {
    expect(requiredGoVersion(full, { GOVERSION: "go1.24" }, "1.25")).toEqual({ version: "go1.25", source: "build.go", atLeast: false });
  });
});

describe("parseGoVersion", () => {
  const cases: [string, ReturnType<typeof parseGoVersion>][] = [
    ["go1.22", { major: 1, minor: 22 }],
    ["1.22.3", { major: 1, minor: 22, patch: 3 }],
    ["go1.23rc1", { major: 1, minor: 23, pre: "rc1" }],
    ["go version go1.26.8 linux/amd64", { major: 1, minor: 26, patch: 8 }],
    ["go1.26.8 X:nodwarf5", { major: 1, minor: 26, patch: 8 }],
    ["devel go1.27-abcdef Tue Jan 1 2026", { major: 1, minor: 27 }],
    ["latest", null],
    ["go1", null],
    ["", null],
  ];
  for (const [text, want] of cases) test(JSON.stringify(text), () => expect(parseGoVersion(text)).toEqual(want));
});

describe("checkToolchain", () => {
  const atLeast = (version: string): GoVersionRequirement => ({ version, source: "go.mod:3 go", atLeast: true });
  const pinned = (version: string, source = "go.mod:1 // +heroku goVersion"): GoVersionRequirement => ({
    version,
    source,
    atLeast: false,
  });
  // [requirement, local go, satisfied?]
  const cases: [GoVersionRequirement | null, string, boolean][] = [
    [null, "go1.10", true],
    [atLeast("go1.22"), "go1.22.0", true],
    [atLeast("go1.22"), "go1.26.8", true],
    [atLeast("go1.22"), "go1.22rc1", true],
    [atLeast("go1.22"), "go1.21.13", false],
    [atLeast("go1.22.3"), "go1.22.3", true],
    [atLeast("go1.22.3"), "go1.22.2", false],
    [atLeast("go1.22.3"), "go1.23rc1", true],
    [atLeast("go1.22.0"), "go1.22rc2", false],
    [atLeast("go2.0"), "go1.99.9", false],
    [{ version: "go1.21.4", source: "go.mod:4 toolchain", atLeast: true }, "go1.21.5", true],
    [pinned("go1.22"), "go1.22.9", true],
    [pinned("go1.22"), "go1.22.0", true],
    [pinned("go1.22"), "go1.23.0", false],
    [pinned("go1.22"), "go1.21.9", false],
    [pinned("go1.22.3"), "go1.22.3", true],
    [pinned("go1.22.3"), "go1.22.4", false],
    [pinned("go1.23rc1"), "go1.23rc1", true],
    [pinned("go1.23rc1"), "go1.23rc2", false],
    [pinned("go1.26", "GOVERSION"), "go version go1.26.8 linux/amd64", true],
  ];
  for (const [req, local, ok] of cases) {
    test(`${req ? `${req.atLeast ? ">=" : "=="} ${req.version}` : "none"} with ${local}: ${ok ? "ok" : "refused"}`, () => {
      const msg = checkToolchain(req, local);
      if (ok) expect(msg).toBeNull();
      else expect(msg).toBeString();
    });
  }

  test("messages: what is asked and where, what is installed, what to do", () => {
    expect(checkToolchain(atLeast("go1.99"), "go1.26.8")).toBe(
      "go.mod:3 go asks for Go 1.99 or newer, but the local Go is go1.26.8. qdeploy fetches a Go only for a pin " +
        "(build.go, goVersion, GOVERSION), not for this line: install Go 1.99 or newer (https://go.dev/dl/) and put it first on PATH, " +
        "or set [build] go = \"go1.99\" to have qdeploy fetch that Go, or lower the go line in go.mod if the module does not need go1.99.",
    );
    // A pin the local Go misses is fetched (toolchain.ts); the message only says it differs.
    expect(checkToolchain(pinned("go1.22", "go.mod:3 // +heroku goVersion"), "go1.26.8")).toBe(
      "go.mod:3 // +heroku goVersion asks for Go 1.22.x, but the local Go is go1.26.8.",
    );
    expect(checkToolchain(pinned("go1.22.3", "GOVERSION"), "go1.22.5")).toBe("GOVERSION asks for exactly Go 1.22.3, but the local Go is go1.22.5.");
    expect(checkToolchain({ version: "go1.30.1", source: "go.mod:4 toolchain", atLeast: true }, "go1.26.8")).toBe(
      "go.mod:4 toolchain asks for Go 1.30.1 or newer, but the local Go is go1.26.8. qdeploy fetches a Go only for a pin " +
        "(build.go, goVersion, GOVERSION), not for this line: install Go 1.30.1 or newer (https://go.dev/dl/) and put it " +
        "first on PATH, or set [build] go = \"go1.30\" to have qdeploy fetch that Go, or lower the toolchain line in go.mod, " +
        'or set [build] go = "go1.26" to build with the Go you have.',
    );
    expect(checkToolchain(pinned("latest", "go.mod:1 // +qoddi goVersion"), "go1.26.8")).toBe(
      'go.mod:1 // +qoddi goVersion asks for Go "latest", which is not a Go version; write it as go1.22 ' +
        "(any 1.22.x) or go1.22.3 (exactly that release).",
    );
    expect(checkToolchain(atLeast("go1.22"), "weird")).toBe(
      'cannot tell which Go is installed: `go env GOVERSION` printed "weird". Install Go from https://go.dev/dl/.',
    );
  });
});
