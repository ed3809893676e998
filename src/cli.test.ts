import { expect, spyOn, test } from "bun:test";
import { main, report } from "./cli.ts";
import { parseCommandLine } from "./cli/parse.ts";
import { RemoteError } from "./errors.ts";
import { createOutput, redactingOutput } from "./output.ts";
import { Redactor } from "./secrets/redact.ts";

test("setup's --bootstrap flags parse: a switch and two values", () => {
  const p = parseCommandLine(["setup", "prod", "--bootstrap", "--bootstrap-user", "admin", "--key=~/.ssh/me.pub"]);
  expect(p.kind).toBe("run");
  if (p.kind !== "run") return;
  expect(p.command.name).toBe("setup");
  expect(p.inv).toEqual({ args: ["prod"], flags: { bootstrap: true, "bootstrap-user": "admin", key: "~/.ssh/me.pub" }, rest: [] });
});

test("--bootstrap-user or --key without --bootstrap is bad usage (exit 2), before any config is read", async () => {
  const lines: string[] = [];
  const out = { ...createOutput({}), error: (l: string) => lines.push(l) };
  expect(await main(["setup", "prod", "--bootstrap-user", "admin", "--config", "/nonexistent/deploy.toml"], out)).toBe(2);
  expect(lines).toEqual(["--bootstrap-user and --key go with --bootstrap"]);
});

test("an error is reported without a secret the command read: its message, --verbose's stack, --json's body", () => {
  const secret = "-----BEGIN KEY-----\nMIIsecretline\n-----END KEY-----";
  const redactor = new Redactor();
  redactor.hide([secret]);
  const lines: string[] = [];
  const out = redactingOutput({ ...createOutput({}), error: (l: string) => lines.push(l) }, redactor.redact);
  const written: string[] = [];
  const writes = [spyOn(process.stderr, "write"), spyOn(process.stdout, "write")].map((s) => s.mockImplementation((t: string | Uint8Array) => (written.push(String(t)), true)));
  try {
    expect(report(new RemoteError("root@h", "health-gated switch failed", { stderr: "journal: MIIsecretline" }), out, { verbose: true, json: true }, redactor.redact)).toBe(1);
  } finally {
    for (const w of writes) w.mockRestore();
  }
  expect(lines).toEqual(["root@h: health-gated switch failed\n  stderr:\n    journal: [redacted]"]);
  expect(written.join("")).toContain("journal: [redacted]"); // the stack and the JSON were written
  expect(written.join("")).toContain('"kind": "remote"');
  expect(written.join("")).not.toContain("MIIsecretline");
});
