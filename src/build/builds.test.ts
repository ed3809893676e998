import { expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import type { EventSink } from "../events.ts";
import { buildForArchs } from "./builds.ts";

// A real (warm-cache) build: the [env] table's GO_LINKER_SYMBOL/VALUE reach the binary, unless deploy.toml has build.stamp.
test("GO_LINKER_SYMBOL/VALUE from [env] stamp the binary; deploy.toml's build.stamp wins", async () => {
  const root = mkdtempSync(join(tmpdir(), "qdeploy-vars-"));
  writeFileSync(join(root, "go.mod"), "module example.com/v\n\ngo 1.22\n");
  writeFileSync(join(root, "main.go"), 'package main\n\nimport "fmt"\n\nvar commit = "none"\n\nfunc main() { fmt.Println(commit) }\n');
  const lines: string[] = [];
  const out: EventSink = (e) => void (e.type === "info" && lines.push(e.line));
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

// go.mod alone (no [build] keys): the install line's -tags and -ldflags reach the build, and a .go file is bin/main.
test("a // +heroku install line's flags are honoured from go.mod; a .go file builds as bin/main", async () => {
  const root = mkdtempSync(join(tmpdir(), "qdeploy-install-"));
  const put = (p: string, text: string) => {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  };
  put("go.mod", "module example.com/i\n\n// +heroku install -tags 'postgres' -ldflags '-X main.commit=fromline' ./cmd/migrate\n\ngo 1.22\n");
  put("cmd/migrate/main.go", 'package main\n\nimport "fmt"\n\nvar commit = "none"\n\nfunc main() { fmt.Println(db, commit) }\n');
  put("cmd/migrate/pg.go", '//go:build postgres\n\npackage main\n\nconst db = "postgres"\n');
  put("cmd/migrate/none.go", '//go:build !postgres\n\npackage main\n\nconst db = "none"\n');
  put("cmd/admin/main.go", 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("admin") }\n');
  const out: EventSink = () => {};
  const cfg = () =>
    ({
      root,
      vars: {},
      build: { dir: root, binary: "i", cgo: false, ldflags: "-s -w", tags: [], stamp: { symbol: "main.version", value: "{git.sha}" } },
    }) as unknown as ResolvedConfig;
  const env = { ...process.env };
  delete process.env.GO_INSTALL_PACKAGE_SPEC;
  try {
    const migrate = await buildForArchs(cfg(), ["x86_64"], out);
    expect(execFileSync(migrate.artifacts.x86_64!.binaries.migrate!.path, { encoding: "utf8" })).toBe("postgres fromline\n");

    put("go.mod", "module example.com/i\n\n// +heroku install ./cmd/admin/main.go\n\ngo 1.22\n");
    const c = cfg();
    const admin = await buildForArchs(c, ["x86_64"], out);
    expect(c.build.binaries).toEqual(["main", "i"]);
    expect(execFileSync(admin.artifacts.x86_64!.binaries.main!.path, { encoding: "utf8" })).toBe("admin\n");
  } finally {
    Object.assign(process.env, env);
  }
}, 180_000);
