import { describe, expect, test } from "bun:test";
import { helloConfig } from "../../test/fixtures/config.ts";
import type { ResolvedConfig, ResolvedPreviews } from "../config/types.ts";
import { branchPreview, expiresAt, firstDeploy, overLimit, PREVIEW_RESOURCES, previewApp, previewConfig, previewRecord, prPreview, type PreviewRecord } from "./review-app.ts";

const previews: ResolvedPreviews = { environment: "sandbox", domainSuffix: "preview.example.com", max: 2, ttlSec: 86_400, forks: false, seed: false, scrub: null };
const base: ResolvedConfig = {
  ...helloConfig,
  previews,
  hosts: [helloConfig.hosts[0]!, { host: "10.0.0.9", label: "deploy@db" }, { host: "10.0.0.8", label: "deploy@web-2" }],
  addonOnlyHosts: [{ host: "10.0.0.9", label: "deploy@db" }],
  addons: [{ name: "db", service: "postgres", host: "deploy@db", address: "10.0.0.9", var: "DATABASE_URL", backup: { at: "daily", keep: 7 } } as ResolvedConfig["addons"][number]],
  resources: { worker: { size: "standard-2x", memoryBytes: 1024 ** 3, cpu: null, cpuWeight: 200, tasks: null, nofile: null } },
};

describe("preview names", () => {
  test("pr-N for a pull request, br- and a slug of the branch (20 at most) for a branch", () => {
    expect(prPreview(7)).toBe("pr-7");
    expect(branchPreview("Feature/Login_Page")).toBe("br-feature-login-page");
    expect(branchPreview("a-very-long-branch-name-indeed")).toBe("br-a-very-long-branch-n");
    expect(() => prPreview(0)).toThrow("0 is not a pull request number");
    expect(() => branchPreview("///")).toThrow("has no letter or digit");
  });

  test("the preview's app is APP-NAME, refused over 32 characters (a Linux user name)", () => {
    expect(previewApp("hello", "pr-7")).toBe("hello-pr-7");
    expect(() => previewApp("a-long-app-name-of-27-chars", "pr-1234")).toThrow("is over 32 characters");
    expect(() => previewApp("hello", "../x")).toThrow("is not a preview's name");
  });
});

describe("previewConfig", () => {
  const cfg = previewConfig(base, { name: "pr-7", of: "hello", pr: 7, branch: "feature" });

  test("its own app and domain, on the first app host and the add-on's host; no standby", () => {
    expect(cfg.app).toBe("hello-pr-7");
    expect(cfg.hosts.map((h) => h.label)).toEqual(["root@127.0.0.1:2222", "deploy@db"]);
    expect(cfg.addonOnlyHosts.map((h) => h.label)).toEqual(["deploy@db"]);
    expect(cfg.roles).toBeNull();
    expect(cfg.web).toMatchObject({ domains: ["pr-7.preview.example.com"], standbySec: 0, tls: "internal" });
  });

  test("scale 1 at most; limits of a basic dyno unless [resources] gives its own; no jobs, restart timer, firewall, notify or local hooks", () => {
    expect(cfg.scale).toEqual({ worker: 1 });
    expect(cfg.resources.web).toEqual(PREVIEW_RESOURCES);
    expect(PREVIEW_RESOURCES).toMatchObject({ size: "basic", memoryBytes: 512 * 1024 ** 2, cpu: 1 });
    expect(cfg.resources.worker!.size).toBe("standard-2x");
    expect([cfg.jobs, cfg.restart, cfg.firewall, cfg.notify, cfg.hooks.commands]).toEqual([[], null, null, [], {}]);
  });

  test("the env says which preview it is; the add-ons keep their definitions (being the preview app's, they are its own)", () => {
    expect(cfg.vars).toEqual({ LOG_LEVEL: "info", QDEPLOY_PREVIEW: "pr-7", QDEPLOY_PR_NUMBER: "7", QDEPLOY_BRANCH: "feature" });
    expect(cfg.addons).toEqual(base.addons);
    expect(cfg.preview).toEqual({ name: "pr-7", of: "hello", pr: 7, branch: "feature" });
    expect(cfg.previews).toBeNull();
  });

  test("previews.scrub runs after the release phase's command on a first deploy only (alone when there is none)", () => {
    const seeded = { ...base, previews: { ...previews, seed: true, scrub: "bin/scrub" }, release: { command: "hello migrate", timeoutSec: 300 } };
    expect(previewConfig(seeded, { name: "pr-7", of: "hello" }, true).release).toEqual({ command: "hello migrate && bin/scrub", timeoutSec: 300 });
    expect(previewConfig(seeded, { name: "pr-7", of: "hello" }, false).release).toEqual({ command: "hello migrate", timeoutSec: 300 });
    expect(previewConfig({ ...seeded, release: null }, { name: "pr-7", of: "hello" }, true).release).toEqual({ command: "bin/scrub", timeoutSec: 600 });
  });

  test("only from the previews' environment's config", () => {
    expect(() => previewConfig({ ...base, env: "prod" }, { name: "pr-7", of: "hello" })).toThrow("prod is not the previews' environment (sandbox)");
    expect(() => previewConfig({ ...base, previews: null }, { name: "pr-7", of: "hello" })).toThrow("no [previews] table");
  });
});

describe("records, expiry and the limit", () => {
  const cfg = previewConfig(base, { name: "pr-7", of: "hello", pr: 7 });
  const t0 = new Date("2026-12-01T10:00:00Z");
  const first = previewRecord(cfg, "abc", t0, undefined);
  const rec = (name: string): PreviewRecord => ({ ...first, name });

  test("a later deploy keeps the first one's created time; it expires ttl after the last", () => {
    expect(first).toEqual({ name: "pr-7", of: "hello", app: "hello-pr-7", url: "https://pr-7.preview.example.com/", pr: 7, commit: "abc", created: t0.toISOString(), updated: t0.toISOString() });
    const later = previewRecord(cfg, "def", new Date("2026-12-02T10:00:00Z"), first);
    expect([later.created, later.updated, later.commit]).toEqual([t0.toISOString(), "2026-12-02T10:00:00.000Z", "def"]);
    expect(expiresAt(later, previews).toISOString()).toBe("2026-12-03T10:00:00.000Z");
  });

  test("a first deploy: no record yet, or one whose first deploy failed", () => {
    expect([firstDeploy(undefined), firstDeploy(first), firstDeploy({ ...first, failed: true })]).toEqual([true, false, true]);
  });

  test("a new preview over max is refused, naming the live ones; one that exists is always updated", () => {
    expect(overLimit([rec("pr-1")], "pr-7", previews)).toBeNull();
    expect(overLimit([rec("pr-1"), rec("pr-7")], "pr-7", previews)).toBeNull();
    expect(overLimit([rec("pr-1"), rec("pr-2")], "pr-7", previews)).toBe("2 previews are alive, previews.max is 2: pr-1, pr-2. Close a pull request or run qdeploy previews destroy NAME first");
  });
});
