/**
 * What a laptop runs (issue 27): every program qdeploy starts on the machine it runs on, found
 * in the code, is one a Mac has too (or is started only where the code says it may be); and
 * that code, bin/qdeploy and the CI recipe use no GNU-only tool or flag. The sandbox and what
 * `qdeploy serve` runs on its Linux server are Linux's by design and are listed apart.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const REPO = path.resolve(import.meta.dir, "..");

/** Programs a laptop's qdeploy may start, and why each is fine there. */
const PORTABLE: Record<string, string> = {
  git: "a Mac's command line tools have it; without it qdeploy reads no commit and goes on",
  go: "qdeploy's one requirement beside Node.js",
  "${analyze}": "systemd-analyze, only when it is on PATH (check skips calendars without it)",
  "${process.execPath}": "Bun itself (serve --install compiles qdeploy for the server)",
  python3: "unpacks zig's wheel for cgo builds (a Mac has it with the command line tools); else unzip",
  unzip: "unpacks zig's wheel when python3 is missing; on every Mac",
  "apt-get": "only as root on Debian (src/build/zig.ts checks /etc/debian_version first)",
  bash: "runs [hooks]' command lines; every Mac has /bin/bash (3.2: the hooks are the user's own lines)",
};

/**
 * Linux's by design: the sandbox (sandboxPlatformProblem tells a Mac so), and what `qdeploy
 * serve` runs on its server (a checkout, the sandboxed build). `serve --install`, which a
 * laptop runs, is scanned like the rest.
 */
const LINUX_ONLY = ["src/sandbox/", "src/serve/build-worker.ts", "src/serve/sandboxed-build.ts", "src/serve/checkout.ts"];

/** GNU-only or Linux-only on a Mac (BSD userland): the tool or flag, and a pattern finding it. */
const GNU_ONLY: [string, RegExp][] = [
  ["readlink -f", /\breadlink\s+-f\b|"readlink",\s*"-f"/],
  ["sed -i without a suffix", /\bsed\s+-i\s|"sed",\s*"-i"/],
  ["stat -c / --format", /\bstat\s+(-c|--format)\b|"stat",\s*"(-c|--format)/],
  ["date -d", /\bdate\s+-d\b|"date",\s*"-d"/],
  ["sha256sum (shasum -a 256 on a Mac)", /\bsha256sum\b/],
  ["timeout (coreutils)", /(^|[\s;(|&])timeout\s+\d|\["timeout"/m],
  ["base64 -w", /\bbase64\s+-w\b/],
  ["xargs -r", /\bxargs\s+-r\b/],
  ["grep -P", /\bgrep\s+(-\w*P|--perl)/],
  ["cp --reflink / -T", /\bcp\s+(--reflink|-T\b)/],
  ["find -printf", /\s-printf\s/],
  ["nproc", /\bnproc\b/],
];

/** The programs a source file starts: literal argv[0]s, and zx templates' first words. */
export function startedPrograms(text: string): string[] {
  const found = [...text.matchAll(/(?:Bun\.spawn(?:Sync)?|runOk)\(\s*\[\s*"([^"]+)"/g)].map((m) => m[1]!);
  found.push(...[...text.matchAll(/\bspawnSync\(\s*"([^"]+)"/g)].map((m) => m[1]!));
  // zx: `$(opts)\`PROGRAM ...\`` and `const NAME = $(opts)` then `NAME\`PROGRAM ...\``.
  const bound = [...text.matchAll(/\b(?:const|let)\s+(\w+)\s*=\s*\$\(/g)].map((m) => m[1]!);
  const tags = ["\\$\\(\\{[^`]*?\\}\\)", ...bound.map((b) => `\\b${b}`)];
  for (const tag of tags) found.push(...[...text.matchAll(new RegExp(`${tag}\`\\s*(\\$\\{[^}]+\\}|[^\\s\`$]+)`, "g"))].map((m) => m[1]!));
  return [...new Set(found)];
}

/** The GNU-only uses in a text, by name. */
export function gnuOnly(text: string): string[] {
  return GNU_ONLY.filter(([, re]) => re.test(text)).map(([name]) => name);
}

/** The text without its comments: what they say about a tool is not a use of it. */
export function withoutComments(text: string, shell: boolean): string {
  if (shell) return text.replace(/^\s*#.*$/gm, "").replace(/\s#\s.*$/gm, "");
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(REPO, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name))
    .map((e) => path.relative(REPO, path.join(e.parentPath, e.name)));
}

const files = sourceFiles("src").map((file) => ({ file, text: withoutComments(readFileSync(path.join(REPO, file), "utf8"), false) }));
const laptop = files.filter((f) => !LINUX_ONLY.some((d) => f.file.startsWith(d)));

describe("what a laptop runs", () => {
  test("the scanner finds what it should (so the checks below can fail)", () => {
    expect(startedPrograms('Bun.spawn(["sha256sum", f]); runOk(["git", "x"]); const g = $({ cwd }); await g`go env`; $({ quiet: true })`${analyze} calendar`;').sort()).toEqual(["${analyze}", "git", "go", "sha256sum"]);
    expect(withoutComments("# readlink -f is not there\nx=1 # sed -i here\nreadlink \"$f\"", true)).not.toContain("-f");
    expect(withoutComments('/** stat -c */\nconst a = "http://x"; // date -d\nrun(["git"]);', false)).toBe('\nconst a = "http://x"; \nrun(["git"]);');
    expect(gnuOnly('run(["readlink", "-f", p]); sed -i s/a/b/ f; timeout 5 curl x')).toEqual(["readlink -f", "sed -i without a suffix", "timeout (coreutils)"]);
    expect(gnuOnly("shasum -a 256 f; sed -i.bak s/a/b/ f")).toEqual([]);
  });

  test("every program started outside the sandbox and serve is one a Mac has (or guarded), with its reason", () => {
    const started = laptop.flatMap(({ file, text }) => startedPrograms(text).map((p) => `${p} (${file})`));
    expect(started.length).toBeGreaterThan(5);
    expect(started.filter((s) => PORTABLE[s.split(" (")[0]!] === undefined)).toEqual([]);
  });

  test("no GNU-only tool or flag where a laptop or a CI runner starts programs: the files that spawn, bin/qdeploy, the CI recipe", () => {
    const spawning = laptop.filter(({ text }) => startedPrograms(text).length > 0 || /Bun\.spawn|runOk\(/.test(text));
    const scripts = ["bin/qdeploy", "examples/ci/deploy.sh"].map((file) => ({ file, text: withoutComments(readFileSync(path.join(REPO, file), "utf8"), true) }));
    const found = [...spawning, ...scripts].flatMap(({ file, text }) => gnuOnly(text).map((g) => `${file}: ${g}`));
    expect(found).toEqual([]);
  });
});
