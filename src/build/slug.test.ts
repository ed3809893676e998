import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseSlugignore, readSlug, readSlugContents, slugIgnored } from "./slug.ts";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

function repo(files: Record<string, string>): { dir: string; git: (...a: string[]) => void } {
  const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-slug-"));
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    writeFileSync(path.join(dir, p), content);
  }
  const git = (...a: string[]) => {
    const r = Bun.spawnSync(["git", "-c", "user.name=t", "-c", "user.email=t@t", ...a], { cwd: dir, stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`git ${a.join(" ")}: ${r.stderr}`);
  };
  git("init", "-q");
  return { dir, git };
}

describe(".slugignore, read as Heroku reads it (.gitignore's patterns, no negation)", () => {
  const cases: [string, string, boolean][] = [
    ["*.psd", "art/logo.psd", true],
    ["*.psd", "logo.psd", true],
    ["*.psd", "logo.psd.txt", false],
    ["test", "test/x_test.go", true],
    ["test", "pkg/test/data.json", true],
    ["test", "testdata/x", false],
    ["/test", "pkg/test/data.json", false],
    ["/test", "test/a", true],
    ["docs/", "docs/a.md", true],
    ["docs/", "docs", false],
    ["spec/*.json", "spec/a.json", true],
    ["spec/*.json", "x/spec/a.json", false],
    ["**/fixtures", "a/b/fixtures/x", true],
    ["assets/**/*.map", "assets/js/app.js.map", true],
    ["assets/**/*.map", "assets/app.js.map", true],
    ["file?.txt", "file1.txt", true],
    ["[ab].go", "b.go", true],
    ["# a comment", "# a comment", false],
    ["!keep.md", "keep.md", false],
  ];
  for (const [pattern, file, ignored] of cases) {
    test(`${pattern} ${ignored ? "leaves out" : "keeps"} ${file}`, () => {
      expect(slugIgnored(file, parseSlugignore(pattern))).toBe(ignored);
    });
  }
});

describe("readSlug", () => {
  test("the commit's tracked files with their modes and symlinks, less .slugignore's and qdeploy's own; edits not committed stay out", async () => {
    const { dir, git } = repo({
      "go.mod": "module x\n",
      "main.go": "package main\n",
      "templates/index.tmpl.html": "<h1>v1</h1>\n",
      "static/app.css": "body{}\n",
      "scripts/run.sh": "#!/bin/sh\n",
      "docs/notes.md": "notes\n",
      ".slugignore": "docs/\n*.psd\n",
      "art/logo.psd": "psd",
      "deploy.toml": 'app = "x"\n',
      "secrets/prod.env.age": "age",
      ".qdeploy/deploy.schema.json": "{}",
    });
    chmodSync(path.join(dir, "scripts/run.sh"), 0o755);
    symlinkSync("static/app.css", path.join(dir, "latest.css"));
    git("add", "-A");
    git("commit", "-qm", "v1");
    // Work-tree edits and untracked files are not the commit's.
    writeFileSync(path.join(dir, "templates/index.tmpl.html"), "<h1>edited</h1>\n");
    writeFileSync(path.join(dir, "untracked.txt"), "x");
    const slug = await readSlug(dir, { cacheDir: path.join(dir, ".qdeploy/build") });
    expect(slug.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(slug.files.map((f) => [f.path, f.kind])).toEqual([
      [".slugignore", "file"],
      ["go.mod", "file"],
      ["latest.css", "symlink"],
      ["main.go", "file"],
      ["scripts/run.sh", "exec"],
      ["static/app.css", "file"],
      ["templates/index.tmpl.html", "file"],
    ]);
    expect(slug.ignored).toBe(5);
    const tmpl = slug.files.find((f) => f.path === "templates/index.tmpl.html")!;
    expect(tmpl.sha256).toBe(sha("<h1>v1</h1>\n"));
    expect(slug.files.find((f) => f.path === "latest.css")!.target).toBe("static/app.css");
    const bytes = await readSlugContents(dir, slug.files);
    expect(new TextDecoder().decode(bytes.get(tmpl.sha256))).toBe("<h1>v1</h1>\n");
    // The second read comes from the index of git objects: the same answer.
    expect(await readSlug(dir, { cacheDir: path.join(dir, ".qdeploy/build") })).toEqual(slug);
  });

  test("a module in a subfolder (build.dir) ships that folder's files, named from it", async () => {
    const { dir, git } = repo({ "README.md": "top\n", "services/api/go.mod": "module api\n", "services/api/public/robots.txt": "User-agent: *\n" });
    git("add", "-A");
    git("commit", "-qm", "one");
    const slug = await readSlug(path.join(dir, "services/api"));
    expect(slug.files.map((f) => f.path)).toEqual(["go.mod", "public/robots.txt"]);
  });

  test("without git, the folder's files (but .git's and qdeploy's own), with a note", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-slug-nogit-"));
    mkdirSync(path.join(dir, "public"));
    mkdirSync(path.join(dir, ".qdeploy"));
    writeFileSync(path.join(dir, "public/index.html"), "<p>hi</p>\n");
    writeFileSync(path.join(dir, ".qdeploy/x"), "x");
    writeFileSync(path.join(dir, "go.mod"), "module x\n");
    const slug = await readSlug(dir);
    expect(slug.commit).toBeNull();
    expect(slug.files.map((f) => f.path)).toEqual(["go.mod", "public/index.html"]);
    expect(slug.notes[0]).toContain("not a git repository");
  });

  test("a file name the host cannot make is refused with the fix", async () => {
    const { dir, git } = repo({ "a\nb.txt": "x" });
    git("add", "-A");
    git("commit", "-qm", "odd");
    await expect(readSlug(dir)).rejects.toThrow("rename it or list it in .slugignore");
  });
});
