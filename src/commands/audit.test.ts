import { describe, expect, test } from "bun:test";
import { parseAudit } from "../ops/audit.ts";
import { describeAudit, renderAuditTable } from "./audit.ts";

// Lines exactly as server/switch.sh's audit() writes them.
const LOG = [
  "2026-12-02T10:00:00Z activated 20261202100000 by alice@laptop",
  "2026-12-02T10:05:00Z refused 20261202100500 by bob smith@ci-7: health check failed",
  "2026-12-02T10:06:00Z activated 20261202100000 by the timer (restart)",
  "2026-12-02T10:07:00Z activated 20261202100000 by ops@qdeploy-serve (restart) (web only)",
  "2026-12-02T10:08:00Z restarted worker by alice@laptop",
  "2026-12-02T10:09:00Z activated 20261202100500 by reconcile (an interrupted switch had made it live)",
  "2026-12-02T10:09:30Z reverted 20261202100500 to 20261202100000 by bob smith@ci-7",
  "2026-12-02T10:10:00Z maintenance on by alice@laptop (custom page)",
  "2026-12-02T10:11:00Z maintenance off by alice@laptop",
  "garbage without a time",
].join("\n");

describe("describeAudit", () => {
  test("what and who out of each kind of line switch.sh writes", () => {
    const rows = parseAudit("root@h1:22", LOG).map(describeAudit);
    expect(rows.map((r) => [r.what, r.who])).toEqual([
      ["activated 20261202100000", "alice@laptop"],
      ["refused 20261202100500: health check failed", "bob smith@ci-7"],
      ["activated 20261202100000 (restart)", "the timer"],
      ["activated 20261202100000 (restart) (web only)", "ops@qdeploy-serve"],
      ["restarted worker", "alice@laptop"],
      ["activated 20261202100500 (an interrupted switch had made it live)", "reconcile"],
      ["reverted 20261202100500 to 20261202100000", "bob smith@ci-7"],
      ["maintenance on (custom page)", "alice@laptop"],
      ["maintenance off", "alice@laptop"],
      ["garbage without a time", ""],
    ]);
    expect(rows[0]).toEqual({
      time: "2026-12-02T10:00:00Z",
      host: "root@h1:22",
      what: "activated 20261202100000",
      who: "alice@laptop",
      line: "activated 20261202100000 by alice@laptop",
    });
  });
});

describe("renderAuditTable", () => {
  test("a header and padded columns, newest first as given; no time or who is a dash", () => {
    const rows = [
      ...parseAudit("root@web-2:22", "2026-12-02T10:08:00Z restarted worker by alice@laptop\n"),
      ...parseAudit("root@h1:22", "2026-12-02T10:05:00Z refused 20261202100500 by ci@runner: health check failed\nstray line\n"),
    ].map(describeAudit);
    expect(renderAuditTable(rows)).toEqual([
      "TIME                  HOST           WHAT                                         WHO",
      "2026-12-02T10:08:00Z  root@web-2:22  restarted worker                             alice@laptop",
      "2026-12-02T10:05:00Z  root@h1:22     refused 20261202100500: health check failed  ci@runner",
      "-                     root@h1:22     stray line                                   -",
    ]);
  });

  test("no entries says so", () => {
    expect(renderAuditTable([])).toEqual(["(no audit entries)"]);
  });
});
