/**
 * mattn/go-sqlite3 with qdeploy's defaults (no CGO flags of the user's): check names it while
 * cgo is off, and with cgo = true it builds through zig for amd64 and arm64, static, and the
 * amd64 binary runs queries. Real go, real zig (installed by qdeploy on first use), the
 * module from the Go module proxy. The two builds run side by side: each is mostly one
 * clang process compiling sqlite's amalgamation, so two cores do both in the time of one.
 */
import { afterAll, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { goTarget } from "../src/build/arch.ts";
import { cgoPackages } from "../src/build/cgo.ts";
import { buildBinary, type BuiltBinary } from "../src/build/go-build.ts";
import { ensureZig } from "../src/build/zig.ts";
import type { ResolvedConfig } from "../src/config/types.ts";
import { requireTool } from "./tools.ts";

// v1.14.18, the last release that asks for pread64 (-DHAVE_PREAD64=1), which musl hides
// without -D_LARGEFILE64_SOURCE; pinned, so the test builds the same C every time.
const SQLITE = "github.com/mattn/go-sqlite3@v1.14.18";
const SLOW = 1_200_000; // cold: zig builds musl and sqlite's 9 MB of C for each CPU

const MAIN = `package main

import (
	"database/sql"
	"fmt"
	"log"

	_ "github.com/mattn/go-sqlite3"
)

func main() {
	db, err := sql.Open("sqlite3", ":memory:")
	if err != nil {
		log.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
		"INSERT INTO notes (body) VALUES ('hello'), ('from sqlite')",
	} {
		if _, err := db.Exec(q); err != nil {
			log.Fatal(err)
		}
	}
	var n int
	var last string
	if err := db.QueryRow("SELECT count(*), max(body) FROM notes").Scan(&n, &last); err != nil {
		log.Fatal(err)
	}
	var version string
	if err := db.QueryRow("SELECT sqlite_version()").Scan(&version); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, last, version != "")
}
`;

const BUILD: ResolvedConfig["build"] = { main: ".", binary: "notes", cgo: true, ldflags: "-s -w", tags: [], stamp: null };
// qdeploy's defaults only: no CGO_CFLAGS or other C flags of the caller's.
const env: Record<string, string | undefined> = { ...process.env, GOVERSION: undefined, CGO_CFLAGS: undefined, CGO_CPPFLAGS: undefined, CGO_CXXFLAGS: undefined, CGO_LDFLAGS: undefined, GOFLAGS: "" };

const root = mkdtempSync(join(tmpdir(), "qdeploy-sqlite-"));
const outDir = mkdtempSync(join(tmpdir(), "qdeploy-sqlite-out-"));
afterAll(() => [root, outDir].forEach((d) => rmSync(d, { recursive: true, force: true })));

test("check's look names mattn/go-sqlite3 as C code (what a cgo-off build would turn into a stub)", async () => {
  const go = requireTool("go");
  writeFileSync(join(root, "go.mod"), "module example.com/notes\n\ngo 1.22\n");
  writeFileSync(join(root, "main.go"), MAIN);
  execFileSync(go, ["get", SQLITE], { cwd: root, env: { ...env, GOTOOLCHAIN: "local" } as Record<string, string>, stdio: "pipe" });
  expect(await cgoPackages(root, ["."], env)).toEqual(["github.com/mattn/go-sqlite3"]);
}, 120_000);

const built: Record<string, BuiltBinary> = {};

test("with cgo = true it builds for amd64 and arm64 at once, each one static file of its CPU", async () => {
  const file = requireTool("file");
  await ensureZig({ env }); // once, before the two builds that both need it
  const targets = [
    ["x86_64", "ELF 64-bit LSB executable, x86-64"],
    ["aarch64", "ELF 64-bit LSB executable, ARM aarch64"],
  ] as const;
  await Promise.all(
    targets.map(async ([uname]) => {
      built[uname] = await buildBinary({ root, build: BUILD, target: goTarget(uname), gitSha: null, outDir, env });
      console.log(`sqlite ${uname}: built in ${built[uname]!.seconds.toFixed(1)}s, ${built[uname]!.size} bytes`);
    }),
  );
  for (const [uname, says] of targets) {
    const f = execFileSync(file, ["-b", built[uname]!.path], { encoding: "utf8" });
    expect(f).toStartWith(says);
    expect(f).toContain("statically linked");
    expect(f).not.toContain("interpreter");
  }
}, SLOW);

test("the amd64 binary creates, inserts and selects", () => {
  expect(built.x86_64).toBeDefined();
  expect(execFileSync(built.x86_64!.path, { encoding: "utf8" })).toBe("2 hello true\n");
});
