/**
 * No import cycle reaches src/serve: the routes once imported `ServeEnv` from app.ts, which
 * imports the routes. Type-only imports count: they are how that cycle came in.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const SRC = path.resolve(import.meta.dir, "..");
const SERVE = path.join(SRC, "serve");

/** Every .ts and .tsx file under `dir` (declaration files aside). */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.tsx?$/.test(name) && !name.endsWith(".d.ts") ? [p] : [];
  });
}

/** The file a relative specifier names, or undefined (a package, or not found). */
function resolveImport(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const p = path.resolve(path.dirname(from), spec);
  const candidates = [p, p.replace(/\.js$/, ".ts"), p.replace(/\.js$/, ".tsx"), `${p}.ts`, `${p}.tsx`, path.join(p, "index.ts")];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/** file -> the files it imports (value, type-only and re-exports alike). */
function importGraph(files: string[]): Map<string, string[]> {
  return new Map(
    files.map((f) => {
      const { importedFiles } = ts.preProcessFile(readFileSync(f, "utf8"), true, true);
      const deps = importedFiles.map((i) => resolveImport(f, i.fileName)).filter((d): d is string => d !== undefined);
      return [f, [...new Set(deps)]];
    }),
  );
}

/** One cycle per strongly connected component of more than one file (or a file importing itself), as a path back to its start. */
function findCycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's algorithm for the components, then a shortest path round each one to name it.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component);
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((c) => {
    const start = [...c].sort()[0]!;
    const inside = new Set(c);
    const back = new Map<string, string>();
    const queue = [start];
    for (let i = 0; i < queue.length; i++) {
      const v = queue[i]!;
      for (const w of graph.get(v) ?? []) {
        if (!inside.has(w)) continue;
        if (w === start) {
          const cycle = [start];
          for (let u: string | undefined = v; u !== undefined && u !== start; u = back.get(u)) cycle.splice(1, 0, u);
          return [...cycle, start];
        }
        if (!back.has(w)) {
          back.set(w, v);
          queue.push(w);
        }
      }
    }
    throw new Error(`no cycle through ${start}`); // a component always has one
  });
}

describe("import cycles", () => {
  test("findCycles names a cycle, start to start", () => {
    const graph = new Map([
      ["a", ["b"]],
      ["b", ["c", "d"]],
      ["c", ["a"]],
      ["d", []],
      ["e", ["e"]],
    ]);
    expect(findCycles(graph)).toEqual([
      ["a", "b", "c", "a"],
      ["e", "e"],
    ]);
    expect(findCycles(new Map([["a", ["b"]], ["b", []]]))).toEqual([]);
  });

  test("the import graph sees type-only imports", () => {
    const graph = importGraph(sourceFiles(SERVE));
    expect(graph.get(path.join(SERVE, "api.ts"))).toContain(path.join(SERVE, "env.ts"));
  });

  test("no file of src/serve is in an import cycle", () => {
    const cycles = findCycles(importGraph(sourceFiles(SRC)))
      .filter((c) => c.some((f) => f.startsWith(SERVE + path.sep)))
      .map((c) => c.map((f) => path.relative(SRC, f)).join(" -> "));
    expect(cycles).toEqual([]);
  });
});
