import { expect, test } from "bun:test";
import { OperationError } from "../errors.ts";
import { Runs } from "./runs.ts";

test("a run's events and error leave without the secret values its operation read", async () => {
  const run = new Runs().start({ env: "prod", action: "push", by: "ci" }, async ({ events, redactor }) => {
    redactor.hide(["s3cret-token"]);
    events({ type: "host", host: "h1", line: "journal: s3cret-token" });
    events({ type: "progress", key: "k", line: "final s3cret-token", done: true });
    throw new OperationError("failed: s3cret-token");
  });
  await run.done;
  expect(run.events).toEqual([
    { type: "host", host: "h1", line: "journal: [redacted]" },
    { type: "info", line: "final [redacted]" },
  ]);
  expect(run.record.error).toEqual({ kind: "operation", message: "failed: [redacted]" });
  expect((run.failure as Error).message).toBe("failed: [redacted]");
});
