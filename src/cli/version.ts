/** `qdeploy --version`: qdeploy's own version, and the Bun and Go it builds and runs with. */
import { spawnSync } from "node:child_process";
import pkg from "../../package.json" with { type: "json" };
import type { Ctx } from "../commands/context.ts";

export interface Versions {
  qdeploy: string;
  bun: string;
  /** `go version`'s words ("go1.26.8 linux/amd64"), or null when there is no go on PATH. */
  go: string | null;
}

/** The versions; `go` is asked (it builds the apps), with a short timeout. */
export function versions(): Versions {
  const go = spawnSync("go", ["version"], { encoding: "utf8", timeout: 5000 });
  const words = go.status === 0 ? go.stdout.trim().replace(/^go version /, "") : null;
  return { qdeploy: pkg.version, bun: Bun.version, go: words };
}

/** Prints them (one line, or JSON with --json). */
export function printVersion(ctx: Ctx): number {
  const v = versions();
  ctx.out.data(v);
  ctx.out.result(`qdeploy ${v.qdeploy} (bun ${v.bun}; ${v.go ? `go ${v.go.replace(/^go/, "")}` : "go: not found on PATH"})`);
  return 0;
}
