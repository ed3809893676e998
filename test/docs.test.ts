// The manual: README.md is the front door and links every page of docs/; every relative link
// lands on a file and, with a #fragment, on a heading of it; the generated parts are current.
import { expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { GENERATED, ROOT, withPart } from "../scripts/docs.ts";

const PAGES = ["README.md", ...readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

/** The text without fenced code blocks (a `# comment` in one is no heading, a link no link). */
function prose(md: string): string[] {
  let fenced = false;
  return md.split("\n").map((line) => {
    if (/^\s*```/.test(line)) fenced = !fenced;
    return fenced || /^\s*```/.test(line) ? "" : line;
  });
}

/** GitHub's anchor for a heading: lowercase, punctuation but - and _ dropped, spaces to -. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors of a markdown file's headings, repeats numbered -1, -2 as GitHub does. */
function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(md)) {
    const m = /^#{1,6} +(.+?) *#* *$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/** Every inline link target of a markdown text, outside code spans and fenced blocks. */
function links(md: string): string[] {
  const text = prose(md).join("\n").replace(/`[^`\n]*`/g, "``");
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

test("slugs and links are read as GitHub reads them", () => {
  expect(slug("Running it on a host: `qdeploy serve --install ENV`")).toBe("running-it-on-a-host-qdeploy-serve---install-env");
  expect(slug("The slug: your app's files")).toBe("the-slug-your-apps-files");
  expect([...anchors("# A\n## A\n```\n# not one\n```\n### A!\n")]).toEqual(["a", "a-1", "a-2"]);
  expect(links("[a](b.md#c) `[x](y)` [d](https://e) ![i](img.png)")).toEqual(["b.md#c", "https://e", "img.png"]);
});

test("every relative link in README.md and docs/ lands on a file, and on a heading of it", () => {
  const broken: string[] = [];
  for (const page of PAGES) {
    for (const target of links(read(page))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [file, fragment] = target.split("#") as [string, string | undefined];
      const to = file ? path.join(path.dirname(page), decodeURIComponent(file)) : page;
      if (!existsSync(path.join(ROOT, to))) broken.push(`${page}: ${target}: no file ${to}`);
      else if (fragment !== undefined && to.endsWith(".md") && !anchors(read(to)).has(fragment)) broken.push(`${page}: ${target}: no heading #${fragment} in ${to}`);
    }
  }
  expect(broken).toEqual([]);
});

test("README.md links every page of docs/ and stays under 200 lines", () => {
  const linked = new Set(links(read("README.md")).map((t) => t.split("#")[0]));
  expect(PAGES.filter((p) => p !== "README.md" && !linked.has(p))).toEqual([]);
  expect(read("README.md").split("\n").length).toBeLessThan(200);
});

for (const part of GENERATED) {
  test(`${part.file}'s ${part.name} part is what ${part.source} makes now (else: bun scripts/docs.ts)`, () => {
    const text = read(part.file);
    expect(withPart(text, part) === text ? "current" : `${part.file} is stale: run bun scripts/docs.ts`).toBe("current");
  });
}
