import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { helloConfig } from "../../test/fixtures/config.ts";
import type { ResolvedConfig } from "../config/types.ts";
import type { Build, OpContext } from "./context.ts";
import type { OpEvent } from "../events.ts";
import { Redactor } from "../secrets/redact.ts";
import { previewPush } from "./preview-push.ts";

const NAME = "PREVIEW_TEST_TOKEN";
const SECRET = "s3cret-preview-value";
const cfg: ResolvedConfig = { ...helloConfig, root: mkdtempSync(path.join(tmpdir(), "qdeploy-preview-")), secrets: { store: "env", names: [NAME] } };
afterEach(() => delete process.env[NAME]);

function op(built: string[][]): OpContext & { seen: OpEvent[] } {
  const seen: OpEvent[] = [];
  // A build that echoes the secret, as go's output could.
  const build: Build = async (_cfg, archs, events) => {
    built.push(archs);
    events({ type: "info", line: `building with ${SECRET}` });
    return { artifacts: Object.fromEntries(archs.map((a) => [a, { binaries: { hello: { path: "/b", sha256: "a".repeat(64), size: 1 } } }])), git: null, seconds: 0 };
  };
  return { cfg, connect: async () => { throw new Error("plan must not connect"); }, events: (e) => seen.push(e), redactor: new Redactor(), who: "me", lockWaitSec: 1, build, seen };
}

describe("previewPush", () => {
  test("builds for the arch and plans fresh hosts; the secret files are masked, the values go to the redactor, the env file's names stay", async () => {
    process.env[NAME] = SECRET;
    const built: string[][] = [];
    const o = op(built);
    const p = await previewPush(o, "aarch64");
    expect(built).toEqual([["aarch64"]]);
    expect(p.platform).toBe("linux/arm64");
    expect(p.notes).toEqual([]);
    expect(p.envNames).toEqual(["LOG_LEVEL", NAME, "QDEPLOY_APP", "QDEPLOY_ENV"].sort());
    const envFile = p.plan.hosts[0]!.release.find((s) => s.kind === "write" && s.path.endsWith("/env"));
    expect(envFile).toMatchObject({ secret: true, content: expect.stringMatching(/^\*{30,}$/) });
    expect(JSON.stringify(p)).not.toContain(SECRET);
    // The edge that made the context hides the values with its redactor (src/cli.ts, serve's runs).
    expect(o.seen).toContainEqual({ type: "info", line: `building with ${SECRET}` });
    expect(o.redactor.redact(`building with ${SECRET}`)).toBe("building with [redacted]");
  });

  test("without the secrets it still plans, and says push needs them", async () => {
    const p = await previewPush(op([]), "x86_64");
    expect(p.notes).toEqual([expect.stringMatching(/^secrets not loaded \(.*\); push needs them$/)]);
    expect(p.plan.hosts).toHaveLength(1);
  });

  test("an unknown arch fails before the build", async () => {
    const built: string[][] = [];
    await expect(previewPush(op(built), "sparc")).rejects.toThrow();
    expect(built).toEqual([]);
  });
});
