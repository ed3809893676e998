import { expect, test } from "bun:test";
import { readTar, writeTar } from "./tar.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

test("readTar reads back writeTar's files, long names included; a cut archive is an error", () => {
  const long = `${"d/".repeat(60)}file.txt`;
  const tar = writeTar([
    { type: "file", name: "a", mode: 0o644, data: bytes("one") },
    { type: "file", name: long, mode: 0o755, data: new Uint8Array(1000).fill(7) },
    { type: "file", name: "empty", mode: 0o644, data: new Uint8Array(0) },
  ]);
  const files = readTar(tar);
  expect(files.map((f) => [f.name, f.data.length])).toEqual([["a", 3], [long, 1000], ["empty", 0]]);
  expect(new TextDecoder().decode(files[0]!.data)).toBe("one");
  expect(() => readTar(tar.subarray(0, 1024 + 512))).toThrow("truncated");
  const bad = tar.slice();
  bad[0] = "b".charCodeAt(0);
  expect(() => readTar(bad)).toThrow("bad header checksum");
  expect(() => readTar(writeTar([{ type: "symlink", name: "l", target: "a" }]))).toThrow("l is not a plain file");
});
