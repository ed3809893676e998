import { expect, test } from "bun:test";
import { helloConfig } from "../../test/fixtures/config.ts";
import { RemoteError } from "../errors.ts";
import { redact } from "../secrets/redact.ts";
import type { OpContext } from "./context.ts";
import type { OpEvent } from "./events.ts";
import { hidingSecrets } from "./host-commands.ts";

const SECRET = "-----BEGIN KEY-----\nMIIsecretline\n-----END KEY-----";
const hide = (text: string) => redact(text, [SECRET]);

function op(seen: OpEvent[]): OpContext {
  return { cfg: helloConfig, connect: async () => { throw new Error("no hosts here"); }, events: (e) => seen.push(e), who: "me", lockWaitSec: 1 };
}

test("an error leaves hidingSecrets without the secret in its message, or in its stack (--verbose prints it)", async () => {
  const e = await hidingSecrets(op([]), hide, async () => {
    throw new RemoteError("root@h", "health-gated switch failed", { stderr: "journal: MIIsecretline" });
  }).catch((x) => x);
  expect(e).toBeInstanceOf(RemoteError);
  expect(e.message).toBe("root@h: health-gated switch failed\n  stderr:\n    journal: [redacted]");
  expect(e.stack).toContain("journal: [redacted]");
  expect(e.stack).not.toContain("MIIsecretline");
});

test("events are hidden on their way out; the result passes through untouched", async () => {
  const seen: OpEvent[] = [];
  const r = await hidingSecrets(op(seen), hide, async (op) => {
    op.events({ type: "host", host: "root@h", line: "got MIIsecretline" });
    return "MIIsecretline";
  });
  expect(seen).toEqual([{ type: "host", host: "root@h", line: "got [redacted]" }]);
  expect(r).toBe("MIIsecretline");
});
