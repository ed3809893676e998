/**
 * The npm package (issue 27): `npm pack` holds what qdeploy runs (bin/, src/ without its tests,
 * the server scripts, the unit, Caddy and rsyslog templates, the schema, the docs) and nothing else;
 * `npm install -g` of it into a fresh prefix, with a fresh HOME and no Bun on PATH, gives a
 * `qdeploy` that works from a Go app's folder outside this checkout: version, init, check, plan.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { cleanEnv, npm, pack, type Packed, REPO, run as runIn } from "./npm-pack.ts";

const MIN = 60_000;
let work = "";
let packed: Packed;
const run = (argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) => runIn(argv, { cwd: opts.cwd ?? work, ...(opts.env && { env: opts.env }) });

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), "qdeploy-npm-"));
  packed = pack(work);
}, MIN);
afterAll(() => work && rmSync(work, { recursive: true, force: true }));

test("npm pack: what qdeploy runs, no tests, fixtures, examples or benchmarks; small", () => {
  const files = packed.files.map((f) => f.path).sort();
  for (const f of ["bin/qdeploy", "src/cli.ts", "server/switch.sh", "server/addon.sh", "systemd/web@.service", "caddy/site.caddy", "rsyslog/drain.conf", "schema/deploy.schema.json", "package.json", "README.md"]) {
    expect(files).toContain(f);
  }
  expect(files.filter((f) => /\.test\.tsx?$/.test(f) || /^(test|examples|bench|node_modules|\.qdeploy|\.ci)\//.test(f))).toEqual([]);
  expect(files.every((f) => /^(bin|src|server|systemd|caddy|rsyslog|schema|docs)\//.test(f) || ["package.json", "README.md"].includes(f))).toBe(true);
  console.log(`npm pack: ${files.length} files, ${(packed.size / 1024).toFixed(0)} kB packed, ${(packed.unpackedSize / 1024).toFixed(0)} kB unpacked`);
  expect(packed.unpackedSize).toBeLessThan(3 * 1024 * 1024);
});

test("npm install -g into a fresh prefix: qdeploy runs on the Bun it brought, from an app's folder", () => {
  const prefix = path.join(work, "prefix");
  // No Bun, no checkout on PATH: node, npm, go and the system's tools only.
  const env = cleanEnv(path.join(work, "home"), path.join(prefix, "bin"));
  run([npm(), "install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", packed.tarball], { env });
  const installed = path.join(prefix, "lib/node_modules/qdeploy");
  expect(existsSync(path.join(installed, "node_modules/.bin/bun"))).toBe(true);
  expect(existsSync(path.join(installed, "src/cli.test.ts"))).toBe(false);
  const qdeploy = path.join(prefix, "bin/qdeploy");
  expect(run([qdeploy, "version"], { env })).toMatch(/^qdeploy 0\.1\.0 \(bun \d+\.\d+\.\d+; go /);

  const app = path.join(work, "myapp");
  cpSync(path.join(REPO, "examples/hello"), app, { recursive: true });
  expect(run([qdeploy, "init"], { cwd: app, env })).toContain("wrote");
  expect(readFileSync(path.join(app, "deploy.toml"), "utf8")).toContain('app = "hello"');
  expect(run([qdeploy, "check", "prod"], { cwd: app, env })).toContain("deploy.toml: ok");
  const plan = run([qdeploy, "plan", "prod"], { cwd: app, env });
  expect(plan).toContain("plan: push hello to prod");
  expect(plan).toContain("write  /srv/qdeploy/hello/switch");
}, 5 * MIN);
