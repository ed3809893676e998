import { describe, expect, test } from "bun:test";
import { LockHeldError } from "../errors.ts";
import { lockAndGatherFacts } from "./host-ops.ts";
import type { ExecResult, Remote } from "./remote.ts";

const host = { user: "root", host: "h", port: 22, label: "root@h" };
const held = "deploy lock on hello is held by alice@laptop, pid 41, since 2026-12-07T09:00:00Z (waited 0s)\n";

/** A host whose deploy lock someone else holds; the argv of every command is kept. */
function lockedHost(stderr: string): { remote: Remote; argvs: string[][] } {
  const argvs: string[][] = [];
  const refuse = async (argv: string[]): Promise<ExecResult> => (argvs.push(argv), { code: 75, stdout: "", stderr });
  return { remote: { label: host.label, exec: refuse } as unknown as Remote, argvs };
}

describe("the deploy lock's command", () => {
  test("a rollback's, which carries the flip to the standby, runs at nice -n -10; a push's at the default priority", async () => {
    const { remote, argvs } = lockedHost(held);
    for (const flip of [null, undefined]) await lockAndGatherFacts(remote, host, "hello", "bob@ci", 0, { flip }).catch(() => {});
    expect(argvs.map((a) => a.slice(0, 5))).toEqual([
      ["nice", "-n", "-10", "bash", "-c"],
      ["bash", "-c", argvs[1]![2]!, "lock", "hello"],
    ]);
  });

  test("on a host where nice may not raise the priority, the refusal says who holds the lock and nothing of nice", async () => {
    const { remote } = lockedHost(`nice: cannot set niceness: Permission denied\n${held}`);
    const e = await lockAndGatherFacts(remote, host, "hello", "bob@ci", 0, { flip: null }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LockHeldError);
    expect((e as LockHeldError).holder).toBe("alice@laptop, pid 41, since 2026-12-07T09:00:00Z");
    expect((e as Error).message).toBe(`root@h: ${held.trim()}; see \`qdeploy lock status\``);
  });
});
