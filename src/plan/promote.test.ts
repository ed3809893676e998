import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { linkSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { helloConfig as cfg } from "../../test/fixtures/config.ts";
import { promoteCommands } from "../server-commands.ts";
import { base64Stream } from "../util/base64-stream.ts";
import { readTar } from "../util/tar.ts";
import { freshHostFacts, type HostFacts, type ReleaseRecord } from "./facts.ts";
import { missingArchs, parseAppManifest, pickPromoted, recordBinaries } from "./promote.ts";

const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
const rel = (id: string, activated = true): ReleaseRecord => ({ id, created: "", git: `git-${id}`, sha256: sha(id), by: "t", configDigest: "", activated });

function facts(label: string, arch: string, live: string | null, releases: ReleaseRecord[]): HostFacts {
  return { ...freshHostFacts({ ...cfg.hosts[0]!, label }, arch), live, releases };
}

describe("pickPromoted", () => {
  test("the release live on every host, read from the first host of each architecture", () => {
    const hosts = [facts("a", "x86_64", "2", [rel("1"), rel("2")]), facts("b", "x86_64", "2", [rel("2")]), facts("c", "aarch64", "2", [rel("2")])];
    const p = pickPromoted(hosts, null, "staging");
    expect(p.release).toBe("2");
    expect([...p.hosts].map(([arch, h]) => `${arch} ${h.facts.host.label} ${h.record.git}`)).toEqual(["x86_64 a git-2", "aarch64 c git-2"]);
  });

  test("a named release, even one no longer live, if it went live once", () => {
    expect(pickPromoted([facts("a", "x86_64", "2", [rel("1"), rel("2")])], "1", "staging").release).toBe("1");
  });

  test("refuses drift, nothing live, an unknown or a refused release, each saying what to do", () => {
    expect(() => pickPromoted([facts("a", "x86_64", "1", [rel("1")]), facts("b", "x86_64", "2", [rel("2")])], null, "staging")).toThrow(
      "staging's hosts run different releases (1 on a; 2 on b): name the one to promote",
    );
    expect(() => pickPromoted([facts("a", "x86_64", null, [])], null, "staging")).toThrow("no release is live on staging: push it first");
    expect(() => pickPromoted([facts("a", "x86_64", "2", [rel("2")])], "9", "staging")).toThrow("release 9 is not on any host of staging (they have: 2)");
    expect(() => pickPromoted([facts("a", "x86_64", "2", [rel("2"), rel("3", false)])], "3", "staging")).toThrow("release 3 never went live on staging");
  });

  test("TO's architectures FROM's release was not built for", () => {
    const source = pickPromoted([facts("a", "x86_64", "2", [rel("2")])], null, "staging");
    expect(missingArchs(source, [facts("p1", "x86_64", null, []), facts("p2", "aarch64", null, []), facts("p3", "aarch64", null, [])])).toEqual(["aarch64 (p2)"]);
  });

  test("a release of an older qdeploy names only its primary program", () => {
    expect(recordBinaries({ sha256: "s" }, "hello")).toEqual({ hello: "s" });
    expect(recordBinaries({ sha256: "s", binaries: { web: "s", worker: "t" } }, "hello")).toEqual({ web: "s", worker: "t" });
  });
});

describe("reading a release's app folder back from a host (the real commands, on a folder laid out as a host's)", () => {
  // An app root as a push leaves it: blobs named by sha256 (".r" a plain file), the release's
  // app folder hard links to them, the program in bin/, a committed symlink.
  const root = mkdtempSync(path.join(tmpdir(), "qdeploy-promote-"));
  const page = Buffer.from("<h1>{{.Title}}</h1>\n");
  const script = Buffer.from("#!/bin/sh\necho migrate\n");
  const program = Buffer.from("\x7fELF a program");
  const blob = (name: string, bytes: Buffer, mode: number) => {
    writeFileSync(path.join(root, "blobs", name), bytes, { mode });
    return path.join(root, "blobs", name);
  };
  mkdirSync(path.join(root, "blobs"), { recursive: true });
  const app = path.join(root, "releases", "20261205100000", "app");
  mkdirSync(path.join(app, "templates", "deep name"), { recursive: true });
  mkdirSync(path.join(app, "bin"));
  writeFileSync(path.join(root, "releases", "20261205100000", "release.json"), "{}");
  linkSync(blob(`${sha(page)}.r`, page, 0o644), path.join(app, "templates", "deep name", "index.html"));
  linkSync(blob(sha(script), script, 0o755), path.join(app, "migrate.sh"));
  linkSync(blob(sha(program), program, 0o755), path.join(app, "bin", "web"));
  symlinkSync("templates", path.join(app, "views"));
  // A blob of another release: listed, never part of this one.
  blob(`${sha("other")}.r`, Buffer.from("other"), 0o644);

  const run = (argv: string[]) => {
    // The commands take the host's app root as their first argument: this folder instead.
    const [cmd, flag, text, name, , ...rest] = argv as [string, string, string, string, string, ...string[]];
    const r = Bun.spawnSync([cmd, flag, text, name, argv[4] === "/srv/qdeploy/hello" ? root : path.join(root, "blobs"), ...rest]);
    return { code: r.exitCode, stdout: r.stdout.toString("latin1"), bytes: r.stdout };
  };

  test("manifest: each file's blob by its inode, symlinks by target, the program left out", () => {
    const r = run(promoteCommands.manifest("hello", "20261205100000"));
    expect(r.code).toBe(0);
    const files = parseAppManifest(r.bytes.toString(), { web: sha(program) }, "host");
    expect(files).toEqual([
      { path: "migrate.sh", kind: "exec", sha256: sha(script), size: script.length },
      { path: "templates/deep name/index.html", kind: "file", sha256: sha(page), size: page.length },
      { path: "views", kind: "symlink", sha256: sha("templates"), size: 9, target: "templates" },
    ]);
    expect(run(promoteCommands.manifest("hello", "20991231000000")).code).toBe(3);
  });

  test("a file that is no blob (edited on the host) is refused", () => {
    writeFileSync(path.join(app, "edited.txt"), "by hand");
    try {
      const r = run(promoteCommands.manifest("hello", "20261205100000"));
      expect(() => parseAppManifest(r.bytes.toString(), {}, "host")).toThrow("host: app/edited.txt is not one of the host's blobs");
    } finally {
      Bun.spawnSync(["rm", path.join(app, "edited.txt")]);
    }
  });

  test("blobs: the named ones as one base64 tar, read back byte for byte", () => {
    const names = [sha(program), `${sha(page)}.r`];
    const chunks: Buffer[] = [];
    const decoded = base64Stream((b) => chunks.push(b));
    const out = run(promoteCommands.blobs("hello", names)).stdout;
    // As it arrives over SSH: in pieces that split base64's groups.
    for (let i = 0; i < out.length; i += 7) decoded.write(out.slice(i, i + 7));
    decoded.end();
    expect(readTar(Buffer.concat(chunks)).map((f) => [f.name, Buffer.from(f.data).toString()])).toEqual([
      [sha(program), program.toString()],
      [`${sha(page)}.r`, page.toString()],
    ]);
    expect(run(promoteCommands.blobs("hello", ["f".repeat(64)])).code).not.toBe(0);
  });

  test("a path a tar could place outside the release is refused (a host that lies)", () => {
    const lying = ["B", "1", `${"a".repeat(64)}.r`, "F", "1", "f", "3", "../../etc/cron.d/x", "", ""].join("\0");
    expect(() => parseAppManifest(lying, {}, "host")).toThrow('host: the app folder lists "../../etc/cron.d/x", which no release holds');
  });

  test("a listing cut short is an error, not a shorter release", () => {
    const r = run(promoteCommands.manifest("hello", "20261205100000")).bytes.toString();
    expect(() => parseAppManifest(r.slice(0, r.lastIndexOf("F\0") + 4), {}, "host")).toThrow("ended mid-record");
  });
});
