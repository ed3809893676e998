import { describe, expect, test } from "bun:test";
import { parseAudit } from "./audit.ts";

describe("parseAudit", () => {
  test("time and line per entry; blank lines dropped; a line without a time kept", () => {
    expect(parseAudit("h1", "2026-12-02T10:00:00Z activated 20261202100000 by a@b\n\nstray\n")).toEqual([
      { host: "h1", time: "2026-12-02T10:00:00Z", line: "activated 20261202100000 by a@b" },
      { host: "h1", time: "", line: "stray" },
    ]);
  });
});
