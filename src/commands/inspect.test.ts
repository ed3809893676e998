import { expect, test } from "bun:test";
import { describeBinaries } from "./inspect.ts";

test("releases: one sha256 for one binary (and older releases), each name's for several", () => {
  const [a, b] = ["a".repeat(64), "b".repeat(64)];
  expect(describeBinaries({ sha256: a })).toBe("sha256 aaaaaaaaaaaa");
  expect(describeBinaries({ sha256: a, binaries: { hello: a } })).toBe("sha256 aaaaaaaaaaaa");
  expect(describeBinaries({ sha256: a, binaries: { web: a, hello: a } })).toBe("sha256 aaaaaaaaaaaa");
  expect(describeBinaries({ sha256: a, binaries: { web: a, worker: b } })).toBe("web aaaaaaaaaaaa, worker bbbbbbbbbbbb");
});
