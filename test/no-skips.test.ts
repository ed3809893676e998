// A test never skips itself (for a missing tool, a non-root user, ...): it fails saying why
// (test/tools.ts requireTool). This holds every test file to that, the ones to come too.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const REPO = join(import.meta.dir, "..");
const SKIPS = /\b(?:test|it|describe)\s*\.\s*(?:skip|skipIf|todo|todoIf|if)\s*\(|console\.warn\(\s*["'`]skipping/;

test("no test file skips tests", () => {
  const offenders: string[] = [];
  for (const pattern of ["src/**/*.test.{ts,tsx}", "test/**/*.ts"]) {
    for (const file of new Bun.Glob(pattern).scanSync({ cwd: REPO })) {
      if (file === "test/no-skips.test.ts") continue;
      readFileSync(join(REPO, file), "utf8")
        .split("\n")
        .forEach((line, i) => SKIPS.test(line) && offenders.push(`${file}:${i + 1}: ${line.trim()}`));
    }
  }
  expect(offenders).toEqual([]);
});

test("every test file has a test (an emptied file passes silently, its tests gone)", () => {
  const empty: string[] = [];
  for (const pattern of ["src/**/*.test.{ts,tsx}", "test/**/*.test.ts"]) {
    for (const file of new Bun.Glob(pattern).scanSync({ cwd: REPO })) {
      if (!/\b(?:test|it)(?:\.each\([^)]*\))?\s*\(/.test(readFileSync(join(REPO, file), "utf8"))) empty.push(file);
    }
  }
  expect(empty).toEqual([]);
});
