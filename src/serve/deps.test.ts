import { describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { realDeps } from "./deps.ts";

const REPO = path.resolve(import.meta.dir, "../..");

describe("realDeps.load", () => {
  test("the served deploy.toml is loaded again only once it (or the Procfile, go.mod) changed; a checkout's always", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-deps-"));
    cpSync(path.join(REPO, "examples/hello"), dir, { recursive: true });
    const file = path.join(dir, "deploy.toml");
    writeFileSync(file, `app = "hello"\n[build]\nmain = "./cmd/hello"\n[processes]\nweb = "hello serve"\n[web]\ndomains = ["hello.localhost"]\nhealth = "/healthz"\n[environments.prod]\nhosts = ["root@127.0.0.1:2999"]\n`);
    const deps = await realDeps({ configFile: file, tokenFile: path.join(dir, "tokens.json") });
    const first = await deps.load("prod");
    expect(await deps.load("prod")).toBe(first);
    writeFileSync(file, readFileSync(file, "utf8").replace("2999", "2998"));
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const changed = await deps.load("prod");
    expect(changed.hosts[0]!.port).toBe(2998);
    expect(await deps.load("prod", file + "")).toBe(changed);
    const copy = path.join(dir, "other.toml");
    writeFileSync(copy, readFileSync(file, "utf8"));
    expect(await deps.load("prod", copy)).not.toBe(await deps.load("prod", copy));
    await deps.close?.();
  });
});
