/** release.json's configDigest: keyed, so a guessable secret cannot be confirmed from it. */
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { helloConfig as cfg } from "../../test/fixtures/config.ts";
import { factsScript } from "../server-scripts.ts";
import { freshHostFacts, type HostFacts, parseFacts } from "./facts.ts";
import { planPush } from "./push.ts";
import { configDigest, renderReleaseFiles } from "./release.ts";

const KEY = "ab".repeat(32);
const OTHER_KEY = "cd".repeat(32);
const SHA = "a".repeat(64);
const PORTS: [number, number] = [8001, 8002];
const host = cfg.hosts[0]!;

function facts(over: Partial<HostFacts> = {}): HostFacts {
  return { ...freshHostFacts(host, "x86_64"), caddy: true, nft: true, webPorts: PORTS, ...over };
}
const push = (f: HostFacts, secrets: Record<string, string>, newDigestKey = OTHER_KEY) =>
  planPush({
    config: cfg,
    facts: [f],
    artifacts: { x86_64: { binaries: { hello: { path: "/b", sha256: SHA, size: 1 } } } },
    releaseId: "20261122010203",
    created: "c",
    git: null,
    who: "me",
    secrets,
    newDigestKey,
  }).hosts[0]!;
const write = (steps: ReturnType<typeof push>["release"], suffix: string) => {
  const s = steps.find((x) => x.kind === "write" && x.path.endsWith(suffix));
  return s?.kind === "write" ? s : undefined;
};
const meta = (h: ReturnType<typeof push>) => JSON.parse(write(h.release, "/release.json")!.content);

describe("configDigest", () => {
  test("equal config and key give equal digests; a changed secret or another key does not", () => {
    const a = configDigest(renderReleaseFiles(cfg, { PIN: "4711" }, PORTS), KEY);
    expect(configDigest(renderReleaseFiles(cfg, { PIN: "4711" }, PORTS), KEY)).toBe(a);
    expect(configDigest(renderReleaseFiles(cfg, { PIN: "4712" }, PORTS), KEY)).not.toBe(a);
    expect(configDigest(renderReleaseFiles(cfg, { PIN: "4711" }, PORTS), OTHER_KEY)).not.toBe(a);
    expect(a).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
  });

  test("guessing a secret from release.json without the key confirms nothing", () => {
    // The attack on an unkeyed digest: render every candidate and compare.
    const published = meta(push(facts({ digestKey: KEY }), { PIN: "4711" })).configDigest as string;
    const unkeyed = (pin: string) => {
      const f = renderReleaseFiles(cfg, { PIN: pin }, PORTS);
      const h = createHash("sha256");
      for (const part of [f.env, f.site, f.switchConf]) h.update(part).update("\0");
      return h.digest("hex");
    };
    const hits = Array.from({ length: 10000 }, (_, i) => String(i).padStart(4, "0")).filter(
      (pin) => published.endsWith(unkeyed(pin)),
    );
    expect(hits).toEqual([]);
  });
});

describe("the digest key in a push", () => {
  test("a host with a key: the digest uses it, and the key is not written again", () => {
    const h = push(facts({ digestKey: KEY }), { PIN: "4711" });
    expect(meta(h).configDigest).toBe(configDigest(renderReleaseFiles(cfg, { PIN: "4711" }, PORTS), KEY));
    expect(write(h.release, "/digest.key")).toBeUndefined();
  });

  test("a host without one gets the new key, root-only and secret, before its release.json", () => {
    const h = push(facts(), { PIN: "4711" }, OTHER_KEY);
    const key = write(h.release, "/digest.key")!;
    expect(key).toMatchObject({ path: "/srv/qdeploy/hello/digest.key", content: `${OTHER_KEY}\n`, mode: 0o600, secret: true });
    expect(h.release.indexOf(key)).toBeLessThan(h.release.indexOf(write(h.release, "/release.json")!));
    expect(meta(h).configDigest).toBe(configDigest(renderReleaseFiles(cfg, { PIN: "4711" }, PORTS), OTHER_KEY));
    expect(write(h.release, "/release.json")!.content).not.toContain(OTHER_KEY);
  });

  test("no key from the host and none given is a bug, not an unkeyed digest", () => {
    expect(() => push(facts(), {}, "")).toThrow("digest key");
  });
});

describe("facts.sh reports the key", () => {
  const app = `qdeploy-digest-test-${process.pid}`;
  const root = `/srv/qdeploy/${app}`;
  const hadParent = existsSync("/srv/qdeploy");
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    if (!hadParent && readdirSync("/srv/qdeploy").length === 0) rmSync("/srv/qdeploy", { recursive: true });
  });
  const run = () => parseFacts(host, Bun.spawnSync(["bash", "-s", "--", app], { stdin: new Blob([factsScript]) }).stdout.toString());

  test("none on a fresh host; the file's key once there; a malformed file counts as none", () => {
    expect(run().digestKey).toBe("");
    mkdirSync(root, { recursive: true });
    writeFileSync(`${root}/digest.key`, `${KEY}\n`, { mode: 0o600 });
    expect(run().digestKey).toBe(KEY);
    writeFileSync(`${root}/digest.key`, "not a key\n");
    expect(run().digestKey).toBe("");
  });
});
