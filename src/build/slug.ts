/**
 * The slug: the app's files as Heroku's slug carries them, beside the compiled programs.
 * It is the tracked files of the built commit (`git ls-tree` at HEAD under the module's
 * folder, never the work tree's edits), less what `.slugignore` names and qdeploy's own
 * folders; without git, the folder's files. Each file is known by the sha256 of its bytes,
 * which is how hosts store it (a blob) and how a push sends only what a host lacks.
 */
import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, readlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { BuildError } from "../errors.ts";

/** One file of the slug; `path` is relative to the app's folder, with `/`. */
export interface SlugFile {
  path: string;
  /** A plain file (0644 on the host), an executable (0755), or a symbolic link. */
  kind: "file" | "exec" | "symlink";
  /** sha256 of the bytes (a symlink: of its target). */
  sha256: string;
  size: number;
  /** A symlink's target, as committed. */
  target?: string;
  /** Where the bytes are read from: a git object of the commit, or a file (no git). */
  source: { oid: string } | { file: string };
}

export interface Slug {
  /** The module folder it was read from (where its bytes are read again for a pack). */
  dir: string;
  files: SlugFile[];
  /** The commit the files are from; null without git (the folder's files). */
  commit: string | null;
  /** Tracked files left out by .slugignore or as qdeploy's own (counted for the summary). */
  ignored: number;
  /** What the user should know (a submodule skipped, edits that are not committed). */
  notes: string[];
}

/** Paths never shipped, relative to the app's folder: qdeploy's state, the encrypted secrets, deploy.toml. */
export const ALWAYS_EXCLUDED = [".qdeploy/", "secrets/", "deploy.toml"];

/**
 * Reads the slug of the module folder `dir`. `excluded` are extra paths (relative to `dir`,
 * a trailing `/` for a folder) left out; `cacheDir` keeps each git object's sha256 so a
 * push hashes only files it has not seen.
 */
export async function readSlug(dir: string, opts: { excluded?: string[]; cacheDir?: string } = {}): Promise<Slug> {
  const excluded = [...ALWAYS_EXCLUDED, ...(opts.excluded ?? [])];
  const head = await git(dir, ["rev-parse", "--verify", "-q", "HEAD"]).catch(() => null);
  const commit = head && /^[0-9a-f]{40,64}$/.test(head.toString().trim()) ? head.toString().trim() : null;
  if (!commit) return readFolderSlug(dir, excluded);
  const notes: string[] = [];
  const tree = parseLsTree(await git(dir, ["ls-tree", "-r", "-z", "--full-name", "HEAD", "."]));
  // --full-name gives paths from the repository's top: make them the module folder's.
  const prefix = (await git(dir, ["rev-parse", "--show-prefix"])).toString().trim();
  const entries = tree.map((e) => ({ ...e, path: e.path.slice(prefix.length) }));
  const ignoreFile = entries.find((e) => e.path === ".slugignore");
  const patterns = ignoreFile ? parseSlugignore((await catBlobs(dir, [ignoreFile.oid])).get(ignoreFile.oid)!.toString("utf8")) : [];
  const kept: typeof entries = [];
  let ignored = 0;
  for (const e of entries) {
    if (e.type === "commit") {
      notes.push(`${e.path} is a git submodule: not part of the slug (Heroku's slug leaves it out too)`);
      continue;
    }
    if (isExcluded(e.path, excluded) || slugIgnored(e.path, patterns)) ignored++;
    else kept.push(e);
  }
  const index = await loadIndex(opts.cacheDir);
  const unknown = kept.filter((e) => !index[e.oid]).map((e) => e.oid);
  if (unknown.length) {
    for (const [oid, bytes] of await catBlobs(dir, unknown)) index[oid] = isSymlinkMode(kept, oid) ? [sha256(bytes), bytes.length, bytes.toString("utf8")] : [sha256(bytes), bytes.length];
    await saveIndex(opts.cacheDir, index);
  }
  const files = kept.map((e): SlugFile => {
    const [sum, size, target] = index[e.oid]!;
    const kind = e.mode === "120000" ? "symlink" : e.mode === "100755" ? "exec" : "file";
    return { path: checkPath(e.path), kind, sha256: sum, size, ...(kind === "symlink" && { target: target ?? "" }), source: { oid: e.oid } };
  });
  return { dir, files, commit, ignored, notes };
}

/** The bytes of these slug files by sha256 (git objects in one `cat-file --batch`, else the files). */
export async function readSlugContents(dir: string, files: SlugFile[]): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  // A symlink is its target, made on the host: no bytes travel.
  files = files.filter((f) => f.kind !== "symlink");
  const oids = files.flatMap((f) => ("oid" in f.source ? [f.source.oid] : []));
  const blobs = oids.length ? await catBlobs(dir, oids) : new Map<string, Buffer>();
  for (const f of files) {
    const bytes = "oid" in f.source ? blobs.get(f.source.oid) : await readFile(f.source.file);
    if (!bytes) throw new BuildError(`cannot read ${f.path} of the slug`);
    if (sha256(bytes) !== f.sha256) throw new BuildError(`${f.path} changed while it was being read; push again`);
    out.set(f.sha256, bytes);
  }
  return out;
}

/** A pattern of .slugignore, compiled: what it matches and whether only folders. */
export interface SlugignorePattern {
  regex: RegExp;
  /** Anchored to the app's folder (it had a `/` before its end), else matched at any depth. */
  anchored: boolean;
}

/**
 * .slugignore's lines, read as Heroku reads them: .gitignore's patterns without `!`
 * (`*`, `?`, `[...]`, `**`; a leading `/` anchors to the top; a `/` inside anchors too; a
 * trailing `/` matches folders only; `#` starts a comment line).
 */
export function parseSlugignore(text: string): SlugignorePattern[] {
  const out: SlugignorePattern[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.replace(/(?<!\\)\s+$/, "");
    if (line === "" || line.startsWith("#")) continue;
    // Heroku ignores negation: a `!` line is taken as a name starting with "!".
    line = line.replace(/\/+$/, "/");
    const dirOnly = line.endsWith("/");
    if (dirOnly) line = line.slice(0, -1);
    const anchored = line.includes("/");
    if (line.startsWith("/")) line = line.slice(1);
    if (line === "") continue;
    // A folder pattern matches everything under it; a file pattern matches the file or, when
    // it names a folder, everything under it (as .gitignore does).
    const body = globToRegex(line);
    out.push({ regex: new RegExp(`^${body}${dirOnly ? "/" : "(?:$|/)"}`), anchored });
  }
  return out;
}

/** Whether .slugignore's patterns leave out this path (relative, `/`-separated). */
export function slugIgnored(file: string, patterns: SlugignorePattern[]): boolean {
  const parts = file.split("/");
  return patterns.some((p) => {
    if (p.anchored) return p.regex.test(file);
    // Unanchored: matches a name at any depth, so try it from each path element.
    for (let i = 0; i < parts.length; i++) if (p.regex.test(parts.slice(i).join("/"))) return true;
    return false;
  });
}

function globToRegex(glob: string): string {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      // `**/` any folders (none included), `/**` everything below, `**` anything.
      if (glob[i + 2] === "/") {
        re += "(?:.*/)?";
        i += 2;
      } else {
        re += ".*";
        i += 1;
      }
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const close = glob.indexOf("]", i + 2);
      if (close < 0) re += "\\[";
      else {
        const set = glob.slice(i + 1, close).replace(/^!/, "^").replace(/\\/g, "\\\\");
        re += `[${set}]`;
        i = close;
      }
    } else if (c === "\\" && i + 1 < glob.length) re += escapeRegex(glob[++i]!);
    else re += escapeRegex(c);
  }
  return re;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

function isExcluded(file: string, excluded: string[]): boolean {
  return excluded.some((x) => (x.endsWith("/") ? file.startsWith(x) : file === x));
}

/** A path the host can make under the app's folder: relative, no `.`/`..` parts, no control characters. */
function checkPath(p: string): string {
  if (p === "" || p.startsWith("/") || p.split("/").some((x) => x === "" || x === "." || x === "..") || /[\x00-\x1f\x7f]/.test(p)) {
    throw new BuildError(`the slug cannot carry ${JSON.stringify(p)}: a file name with a control character or an empty, "." or ".." part; rename it or list it in .slugignore`);
  }
  return p;
}

interface TreeEntry {
  mode: string;
  type: string;
  oid: string;
  path: string;
}

/** `git ls-tree -z` output: `MODE TYPE OID\tPATH\0` per entry. */
export function parseLsTree(out: Uint8Array): TreeEntry[] {
  const text = Buffer.from(out).toString("utf8");
  return text
    .split("\0")
    .filter(Boolean)
    .map((rec) => {
      const tab = rec.indexOf("\t");
      const [mode = "", type = "", oid = ""] = rec.slice(0, tab).split(" ");
      return { mode, type, oid, path: rec.slice(tab + 1) };
    });
}

function isSymlinkMode(entries: TreeEntry[], oid: string): boolean {
  return entries.some((e) => e.oid === oid && e.mode === "120000");
}

/** Runs git in `dir`; its stdout, or a BuildError with its stderr. */
async function git(dir: string, args: string[], stdin?: Uint8Array): Promise<Buffer> {
  const p = Bun.spawn(["git", ...args], { cwd: dir, stdin: stdin ?? "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).arrayBuffer(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new BuildError(`git ${args.join(" ")} in ${dir} failed: ${err.trim()}`);
  return Buffer.from(out);
}

/** The bytes of git objects by id, read in one `git cat-file --batch`. */
async function catBlobs(dir: string, oids: string[]): Promise<Map<string, Buffer>> {
  const unique = [...new Set(oids)];
  const out = await git(dir, ["cat-file", "--batch"], new TextEncoder().encode(unique.map((o) => `${o}\n`).join("")));
  const blobs = new Map<string, Buffer>();
  let at = 0;
  while (at < out.length) {
    const nl = out.indexOf(0x0a, at);
    const [oid = "", type = "", size = ""] = out.subarray(at, nl).toString("utf8").split(" ");
    if (type === "missing" || !/^\d+$/.test(size)) throw new BuildError(`git cat-file: object ${oid} is ${type || "unreadable"}`);
    const start = nl + 1;
    blobs.set(oid, out.subarray(start, start + Number(size)));
    at = start + Number(size) + 1;
  }
  return blobs;
}

/** Without git: every file under `dir` but .git and the excluded paths. */
async function readFolderSlug(dir: string, excluded: string[]): Promise<Slug> {
  const files: SlugFile[] = [];
  let ignored = 0;
  const ignoreText = await readFile(path.join(dir, ".slugignore"), "utf8").catch(() => "");
  const patterns = parseSlugignore(ignoreText);
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(path.join(dir, rel))).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const full = path.join(dir, p);
      const st = await lstat(full);
      if (name === ".git" && rel === "") continue;
      if (isExcluded(st.isDirectory() ? `${p}/` : p, excluded) || slugIgnored(p, patterns)) {
        ignored++;
        continue;
      }
      if (st.isDirectory()) await walk(p);
      else if (st.isSymbolicLink()) {
        const target = await readlink(full);
        files.push({ path: checkPath(p), kind: "symlink", sha256: sha256(Buffer.from(target)), size: target.length, target, source: { file: full } });
      } else if (st.isFile()) {
        const bytes = await readFile(full);
        files.push({ path: checkPath(p), kind: st.mode & 0o111 ? "exec" : "file", sha256: sha256(bytes), size: bytes.length, source: { file: full } });
      }
    }
  };
  await walk("");
  return { dir, files, commit: null, ignored, notes: ["not a git repository: the slug is every file in the folder (with git, the commit's tracked files)"] };
}

/** git object id -> [sha256, size, a symlink's target]. */
type Index = Record<string, [string, number] | [string, number, string]>;

async function loadIndex(cacheDir?: string): Promise<Index> {
  if (!cacheDir) return {};
  try {
    return JSON.parse(await readFile(path.join(cacheDir, "slug-index.json"), "utf8"));
  } catch {
    return {};
  }
}

async function saveIndex(cacheDir: string | undefined, index: Index): Promise<void> {
  if (!cacheDir) return;
  await mkdir(cacheDir, { recursive: true });
  await writeFile(path.join(cacheDir, "slug-index.json"), JSON.stringify(index));
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
