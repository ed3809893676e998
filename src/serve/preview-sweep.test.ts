import { expect, test } from "bun:test";
import { helloConfig } from "../../test/fixtures/config.ts";
import { fakeServe } from "../../test/fixtures/serve-deps.ts";
import { sweepPreviews } from "./preview-sweep.ts";

const now = new Date("2026-12-05T12:00:00Z");
const record = (n: number, updated: string) => ({ name: `pr-${n}`, of: "hello", app: `hello-pr-${n}`, url: null, pr: n, created: updated, updated });

test("a preview whose last deploy is older than previews.ttl gets a destroy run (by ttl); a younger one stays", async () => {
  const previews = { environment: "prod", domainSuffix: "preview.example.com", max: 5, ttlSec: 3600, forks: false, seed: false, scrub: null };
  const f = fakeServe({
    cfg: { ...helloConfig, previews },
    now: () => now,
    environments: { prod: [{ label: "root@h1:22", live: "20261201000000", releases: ["20261201000000"], previews: [record(7, "2026-12-05T10:00:00Z"), record(8, "2026-12-05T11:30:00Z")] }] },
  });
  f.deps.previews = previews;
  expect(await sweepPreviews(f.deps)).toEqual(["pr-7"]);
  const [run] = f.deps.runs.list();
  await f.deps.runs.get(run!.id)!.done;
  expect([run!.env, run!.action, run!.by]).toEqual(["prod/pr-7", "preview-destroy", "ttl"]);
  expect(f.log).toContain("root@h1:22 destroy hello-pr-7");
  expect(f.hosts.prod![0]!.previews!.map((p) => (p as { name: string }).name)).toEqual(["pr-8"]);
  // Nothing left past its ttl: the next look starts nothing.
  expect(await sweepPreviews(f.deps)).toEqual([]);
});
