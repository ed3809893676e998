/** Prometheus's own parser (test/fixtures/promparse: Go's prometheus/common/expfmt) over a /metrics answer. */
import path from "node:path";
import { requireTool } from "./tools.ts";

export type PromFamily = { type: string; help: string; samples: { labels: Record<string, string>; value?: number; count?: number; sum?: number }[] };

/** The families Prometheus's parser reads from `text`; throws with its complaint when it refuses it. */
export function promParse(text: string): Record<string, PromFamily> {
  requireTool("go");
  const r = Bun.spawnSync(["go", "run", "."], { cwd: path.join(import.meta.dir, "fixtures/promparse"), stdin: new Blob([text]), stderr: "pipe", env: { ...process.env, GOFLAGS: "-mod=mod" } });
  if (r.exitCode !== 0) throw new Error(`Prometheus's parser refused the text: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString());
}
