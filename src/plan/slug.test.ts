import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { helloConfig as cfg } from "../../test/fixtures/config.ts";
import { switchText, withLayout } from "../server-scripts.ts";
import { writeTar } from "../util/tar.ts";
import { freshHostFacts, type HostFacts } from "./facts.ts";
import { type PackArtifact, planPush, type SlugInput } from "./push.ts";
import { blobName, missingBlobs, packEntries, renderAppTree, type SlugEntry, slugEntries } from "./slug.ts";
import { describeStep } from "./steps.ts";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const BIN = "b".repeat(64);
const file = (p: string, content: string, kind: SlugEntry["kind"] = "file"): SlugEntry & { content: string } => ({ path: p, kind, sha256: sha(content), size: content.length, content });
const FILES = [
  file("templates/index.tmpl.html", "<h1>{{.}}</h1>\n"),
  file("static/app.css", "body{}\n"),
  file("scripts/run.sh", "#!/bin/sh\necho run\n", "exec"),
  { path: "public/latest.css", kind: "symlink", sha256: sha("../static/app.css"), size: 17, target: "../static/app.css" } as SlugEntry,
];

function facts(over: Partial<HostFacts> = {}): HostFacts {
  return { ...freshHostFacts(cfg.hosts[0]!, "x86_64"), caddy: true, nft: true, ...over };
}

const push = (f: HostFacts, slug: SlugInput, packs: Record<string, PackArtifact> = {}) =>
  planPush({
    config: cfg,
    facts: [f],
    artifacts: { x86_64: { binaries: { hello: { path: `/b/${BIN}`, sha256: BIN, size: 1000 } } } },
    releaseId: "20261122010203",
    created: "c",
    git: "abc",
    who: "me",
    secrets: {},
    newDigestKey: "ab".repeat(32),
    slug,
    packs,
  });

describe("the slug on a host", () => {
  test("a blob is the file's sha256; a plain file's name ends in .r (0644), an executable's does not (0755, as binaries)", () => {
    expect(FILES.map((f) => blobName(f))).toEqual([`${FILES[0]!.sha256}.r`, `${FILES[1]!.sha256}.r`, FILES[2]!.sha256, `${FILES[3]!.sha256}.r`]);
  });

  test("only the blobs the host lacks are sent, each once; symlinks are never blobs", () => {
    const twin = file("static/copy.css", "body{}\n");
    const missing = missingBlobs([...FILES, twin], [`${FILES[0]!.sha256}.r`]);
    expect(missing.map((f) => f.path)).toEqual(["static/app.css", "scripts/run.sh"]);
    expect(missingBlobs(FILES, FILES.map(blobName))).toEqual([]);
  });

  test("a program's bin/NAME wins over a tracked file there, with a note", () => {
    const tracked = file("bin/hello", "#!/bin/sh\n", "exec");
    const { entries, notes } = slugEntries([...FILES, tracked, file("bin/tool", "x", "exec")], { hello: BIN });
    expect(entries.map((f) => f.path)).not.toContain("bin/hello");
    expect(entries.map((f) => f.path)).toContain("bin/tool");
    expect(notes).toEqual(["the slug's bin/hello is replaced by the built program (as on Heroku, bin/ holds what was compiled)"]);
  });

  test("a host that lacks files gets one pack upload, unpacked before the app folder is linked", () => {
    const missing = missingBlobs(FILES, []);
    const pack = { path: "/p/pack.tar", sha256: "c".repeat(64), size: 4096, blobs: missing.map(blobName).sort() };
    const h = push(facts(), { files: FILES, ignored: 2, notes: [] }, { [cfg.hosts[0]!.label]: pack }).hosts[0]!;
    const root = "/srv/qdeploy/hello";
    const d = `${root}/releases/20261122010203`;
    expect(h.upload.map(describeStep)).toEqual([
      `upload /b/${BIN} -> ${root}/blobs/${BIN} (1000 bytes raw, sha256 bbbbbbbbbbbb)`,
      `upload /p/pack.tar -> ${root}/blobs/.pack-${"c".repeat(64)} (4096 bytes raw, sha256 cccccccccccc)`,
    ]);
    expect(h.upload[1]!.why).toBe("the slug's 3 new files");
    const release = h.release.map(describeStep).map((l) => l.split(" (")[0]);
    expect(release.slice(release.indexOf(`write  ${root}/digest.key`) + 1, release.indexOf(`write  ${d}/env`))).toEqual([
      `run    ${root}/switch unpack ${root}/blobs/.pack-${"c".repeat(64)}`,
      `run    ${root}/switch link 20261122010203`,
    ]);
    // The tree goes on the link's stdin, inside the batch script: no file to write, none to remove.
    const link = h.release.find((s) => s.kind === "run" && s.argv[1] === "link");
    expect(link && link.kind === "run" && link.stdin?.length).toBeGreaterThan(0);
    expect(h.notes[0]).toBe("slug: 4 files, 58 B (2 left out by .slugignore or as qdeploy's own); 3 new to this host (41 B), in one pack");
  });

  test("a host that has every blob gets no pack; a pack that is not what the host lacks is a bug", () => {
    const h = push(facts({ blobs: [BIN, ...FILES.map(blobName)] }), { files: FILES, ignored: 0, notes: [] }).hosts[0]!;
    expect(h.upload).toEqual([]);
    expect(h.notes[0]).toBe("slug: 4 files, 58 B; all already on the host");
    expect(() => push(facts(), { files: FILES, ignored: 0, notes: [] })).toThrow("no pack of the 3 slug files it lacks");
    const wrong = { path: "/p", sha256: "c".repeat(64), size: 1, blobs: [blobName(FILES[0]!)] };
    expect(() => push(facts(), { files: FILES, ignored: 0, notes: [] }, { [cfg.hosts[0]!.label]: wrong })).toThrow("no pack of the 3 slug files it lacks");
  });
});

/** The real switch script on a folder laid out as /srv/qdeploy/APP: `switch unpack` and `switch link`. */
describe("switch unpack and link (the real script, with GNU tar)", () => {
  const setup = () => {
    const root = path.join(mkdtempSync(path.join(tmpdir(), "qdeploy-slug-")), "hello");
    mkdirSync(path.join(root, "blobs"), { recursive: true });
    writeFileSync(path.join(root, "switch"), withLayout(switchText, path.dirname(root)), { mode: 0o755 });
    writeFileSync(path.join(root, "blobs", BIN), "the binary", { mode: 0o755 });
    const run = (args: string[], stdin?: string) => Bun.spawnSync([path.join(root, "switch"), ...args], { stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stderr: "pipe", stdout: "pipe" });
    return { root, run };
  };
  const contents = new Map(FILES.map((f) => [f.sha256, new TextEncoder().encode((f as { content?: string }).content ?? "")]));

  test("unpack moves each blob into blobs/ with its mode; link makes app/ of hard links and symlinks", () => {
    const { root, run } = setup();
    const pack = path.join(root, "blobs", `.pack-${"c".repeat(64)}`);
    writeFileSync(pack, writeTar(packEntries(missingBlobs(FILES, []), contents)));
    const u = run(["unpack", pack]);
    expect(u.stderr.toString()).toBe("");
    expect(u.exitCode).toBe(0);
    expect(readdirSync(path.join(root, "blobs")).sort()).toEqual([BIN, ...FILES.filter((f) => f.kind !== "symlink").map(blobName)].sort());
    expect(statSync(path.join(root, "blobs", blobName(FILES[0]!))).mode & 0o777).toBe(0o644);
    expect(statSync(path.join(root, "blobs", blobName(FILES[2]!))).mode & 0o777).toBe(0o755);

    const rel = path.join(root, "releases", "20261122010203");
    mkdirSync(path.join(root, "releases"));
    const l = run(["link", "20261122010203"], Buffer.from(renderAppTree("20261122010203", FILES, { hello: BIN })).toString("base64"));
    expect(l.stderr.toString()).toBe("");
    expect(l.exitCode).toBe(0);
    const app = path.join(rel, "app");
    expect(readFileSync(path.join(app, "templates/index.tmpl.html"), "utf8")).toBe("<h1>{{.}}</h1>\n");
    expect(readFileSync(path.join(app, "bin/hello"), "utf8")).toBe("the binary");
    expect(readlinkSync(path.join(app, "public/latest.css"))).toBe("../static/app.css");
    expect(readFileSync(path.join(app, "public/latest.css"), "utf8")).toBe("body{}\n");
    // Hard links: the blob and the release's file are one inode (no second copy on disk).
    expect(statSync(path.join(app, "static/app.css")).ino).toBe(statSync(path.join(root, "blobs", blobName(FILES[1]!))).ino);
    expect(statSync(path.join(app, "static/app.css")).nlink).toBe(2);
    // The release's folders come from the tree too, 0755, and its bin/ links the program's blob.
    expect(readdirSync(rel).sort()).toEqual(["app", "bin", "units"]);
    for (const d of [rel, path.join(rel, "bin"), path.join(rel, "units"), app]) expect(statSync(d).mode & 0o777).toBe(0o755);
    expect(statSync(path.join(rel, "bin/hello")).ino).toBe(statSync(path.join(root, "blobs", BIN)).ino);
  });

  test("a pack member whose bytes do not match its name is refused, and nothing reaches blobs/", () => {
    const { root, run } = setup();
    const pack = path.join(root, "blobs", `.pack-${"d".repeat(64)}`);
    writeFileSync(pack, writeTar([{ type: "file", name: `${sha("good")}.r`, mode: 0o644, data: new TextEncoder().encode("good") }, { type: "file", name: `${sha("x")}.r`, mode: 0o644, data: new TextEncoder().encode("not x") }]));
    const u = run(["unpack", pack]);
    expect(u.exitCode).toBe(1);
    expect(u.stderr.toString()).toContain(`does not match its sha256`);
    expect(readdirSync(path.join(root, "blobs"))).toEqual([BIN]);
  });

  test("a link to a blob the host lacks fails naming it", () => {
    const { root, run } = setup();
    mkdirSync(path.join(root, "releases"));
    const l = run(["link", "20261122010203"], Buffer.from(renderAppTree("20261122010203", FILES.slice(0, 1), {})).toString("base64"));
    expect(l.exitCode).not.toBe(0);
    expect(l.stderr.toString()).toContain(blobName(FILES[0]!));
  });

  test("the tree is the same bytes for the same files (a deterministic gzip of a deterministic tar)", () => {
    const a = renderAppTree("1", FILES, { hello: BIN });
    expect(Buffer.from(renderAppTree("1", FILES, { hello: BIN })).equals(Buffer.from(a))).toBe(true);
    expect(gunzipSync(a).length % 512).toBe(0);
  });
});
