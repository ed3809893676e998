import { expect, test } from "bun:test";
import { RemoteError } from "../errors.ts";
import { hider, redactErrors } from "./redaction.ts";

const SECRET = "-----BEGIN KEY-----\nMIIsecretline\n-----END KEY-----";

test("an error leaves redactErrors without the secret in its message, or in its stack (--verbose prints it)", async () => {
  const e = await redactErrors(hider({ TLS_KEY: SECRET }), async () => {
    throw new RemoteError("root@h", "health-gated switch failed", { stderr: "journal: MIIsecretline" });
  }).catch((x) => x);
  expect(e).toBeInstanceOf(RemoteError);
  expect(e.message).toBe("root@h: health-gated switch failed\n  stderr:\n    journal: [redacted]");
  expect(e.stack).toContain("journal: [redacted]");
  expect(e.stack).not.toContain("MIIsecretline");
});

test("a result passes through untouched", async () => {
  expect(await redactErrors(hider({ A: "value" }), async () => "value")).toBe("value");
});
