/**
 * The build side of a Heroku-shaped app (examples/heroku: go1.25 pinned, three programs):
 * how long fetching the pinned Go takes cold and cached, and each binary's build time with
 * go's caches cold and warm, for linux/amd64 and linux/arm64. No VM: it builds only.
 *
 *   node_modules/.bin/bun bench/build.ts
 *
 * Runs with fresh GOMODCACHE, GOCACHE and XDG_CACHE_HOME in a temp folder, so "cold" is
 * cold (the toolchain and the proxy's list are fetched again). Prints a Markdown table.
 */
import { cpSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildToolchain } from "../src/build/go-build.ts";
import { buildForArchs } from "../src/build/builds.ts";
import { loadWithPackages } from "../src/config/check-packages.ts";
import { writeInitConfig } from "../src/config/init.ts";
import { requireEnvironment } from "../src/config/load.ts";

const REPO = path.resolve(import.meta.dir, "..");
const work = mkdtempSync(path.join(tmpdir(), "qdeploy-bench-build-"));
const app = path.join(work, "app");
cpSync(path.join(REPO, "examples/heroku"), app, { recursive: true });
Object.assign(process.env, {
  GOMODCACHE: path.join(work, "modcache"),
  GOCACHE: path.join(work, "gocache"),
  XDG_CACHE_HOME: path.join(work, "xdg"),
});
await writeInitConfig(app);
const cfg = requireEnvironment("deploy.toml", await loadWithPackages(path.join(app, "deploy.toml"), "sandbox"));

const rows: string[] = [];
const fetchTime = async (label: string) => {
  const t = performance.now();
  const tc = await buildToolchain(app, process.env);
  rows.push(`| toolchain ${tc.version}, ${label} | ${((performance.now() - t) / 1000).toFixed(2)} s |`);
};
await fetchTime("cold (list + download)");
await fetchTime("cached");

for (const [arch, label] of [["x86_64", "amd64"], ["aarch64", "arm64"], ["x86_64", "amd64, warm"]] as const) {
  const lines: string[] = [];
  // A dirty tree (no commit here) always builds: go's own cache is what is warm or cold.
  await buildForArchs(cfg, [arch], (e) => void (e.type === "info" && lines.push(e.line)));
  for (const l of lines) {
    const m = /built (\w+) for \S+ in ([\d.]+)s: ([^,]+),/.exec(l);
    if (m) rows.push(`| build ${m[1]} (${label}) | ${m[2]} s, ${m[3]} |`);
  }
}
console.log(["| what | result |", "| --- | --- |", ...rows].join("\n"));
