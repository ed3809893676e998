import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describeStep } from "../plan/steps.ts";
import { renderBuildService, renderBuildSocket, renderServeSite, renderServeUnit } from "../render/serve-unit.ts";
import { switchScript } from "../server-scripts.ts";
import { bunTarget, knownHostsLine, parseServeFacts, planServeFinish, planServeInstall, type ServeHostFacts, type ServeInstallInput, serverExecutable, WAIT_FOR_SERVER } from "./install.ts";

const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-serve-install-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bundle = path.join(dir, "head.bundle");
writeFileSync(bundle, "bundle bytes");

const HEAD = "a".repeat(40);
const input: ServeInstallInput = {
  app: "hello",
  env: "prod",
  domain: "deploy.example.com",
  tls: "auto",
  configInRepo: "deploy.toml",
  head: HEAD,
  origin: "git@github.com:me/hello.git",
  executable: { local: "/tmp/qdeploy-bin", sha256: "e".repeat(64), size: 111_000_000 },
  bundle,
};

/** A host that never saw the server. */
const fresh: ServeHostFacts = parseServeFacts(
  ["arch=x86_64", "user=0", "git=0", "zstd=1", "age_keygen=1", "caddy=1", "caddyfile=1", "go=", "exe_sha=", "unit_sha=", "site_sha=", "known_hosts_sha=", "repo=0", "head=", "origin=", "ssh_pub=", "age_recipient=", "tokens=0", "active=0"].join("\n"),
);
const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const KNOWN = [knownHostsLine("203.0.113.10", 22, "ssh-ed25519 AAAAhost1"), knownHostsLine("127.0.0.1", 2222, "ssh-ed25519 AAAAhost2")];
/** The same host after an install of `input`. */
const installed: ServeHostFacts = {
  ...fresh,
  user: true,
  git: true,
  go: "/usr/local/go/bin/go",
  exeSha: input.executable.sha256,
  unitSha: sha(renderServeUnit({ app: "hello", configFile: "/var/lib/qdeploy-serve/repo/deploy.toml" })),
  siteSha: sha(renderServeSite({ domain: input.domain, tls: "auto" })),
  buildSocketSha: sha(renderBuildSocket()),
  buildServiceSha: sha(renderBuildService()),
  buildActive: true,
  knownHostsSha: sha(`${KNOWN.join("\n")}\n`),
  repo: true,
  head: HEAD,
  origin: input.origin!,
  sshPub: "ssh-ed25519 AAAAserver qdeploy-serve@hello",
  ageRecipient: "age1server",
  tokens: true,
  active: true,
};

describe("parseServeFacts", () => {
  test("reads every key; a host that said nothing is an error", () => {
    expect(fresh).toMatchObject({ arch: "x86_64", user: false, git: false, zstd: true, ageKeygen: true, caddyfile: true, go: "", repo: false, tokens: false });
    expect(parseServeFacts("arch=aarch64\nssh_pub=ssh-ed25519 AAAA= x@y\n").sshPub).toBe("ssh-ed25519 AAAA= x@y");
    expect(() => parseServeFacts("bash: line 1: oops")).toThrow("answered no facts");
  });
});

describe("planServeInstall", () => {
  test("a fresh host: git, the user, both uploads, the checkout with origin, the keys made on the host", () => {
    const p = planServeInstall(input, fresh);
    expect(p.prepare.map(describeStep)).toEqual([
      "run    apt-get update -q",
      "run    env DEBIAN_FRONTEND=noninteractive apt-get install -y -q git",
      "run    useradd --system --user-group --home-dir /var/lib/qdeploy-serve --create-home --shell /usr/sbin/nologin qdeploy-serve",
      "run    install -d -m 0700 -o qdeploy-serve -g qdeploy-serve /var/lib/qdeploy-serve /var/lib/qdeploy-serve/.ssh /var/lib/qdeploy-serve/.config /var/lib/qdeploy-serve/.config/qdeploy",
      "run    install -d -m 0755 /usr/local/lib/qdeploy-serve",
    ]);
    expect(p.uploads.map((u) => [u.local, u.remote])).toEqual([
      ["/tmp/qdeploy-bin", "/usr/local/lib/qdeploy-serve/qdeploy"],
      [bundle, "/var/lib/qdeploy-serve/upload.bundle"],
    ]);
    expect(p.uploads[1]!.sha256).toBe(sha("bundle bytes"));
    const as = "runuser -u qdeploy-serve -- env HOME=/var/lib/qdeploy-serve";
    expect(p.apply.map(describeStep)).toEqual([
      "run    chown qdeploy-serve:qdeploy-serve /var/lib/qdeploy-serve/upload.bundle",
      `run    ${as} git init -q /var/lib/qdeploy-serve/repo`,
      `run    ${as} git -C /var/lib/qdeploy-serve/repo fetch -q /var/lib/qdeploy-serve/upload.bundle HEAD`,
      `run    ${as} git -C /var/lib/qdeploy-serve/repo checkout -q --force --detach ${HEAD}`,
      "run    rm -f -- /var/lib/qdeploy-serve/upload.bundle",
      `run    ${as} git -C /var/lib/qdeploy-serve/repo remote add origin git@github.com:me/hello.git`,
      `run    ${as} ssh-keygen -q -t ed25519 -N '' -C qdeploy-serve@hello -f /var/lib/qdeploy-serve/.ssh/id_ed25519`,
      `run    ${as} age-keygen -o /var/lib/qdeploy-serve/.config/qdeploy/age-identity.txt`,
    ]);
    expect(p.warnings).toEqual([expect.stringContaining("go is not installed on the server's host")]);
  });

  test("installed already: no upload, nothing to apply, nothing changed", () => {
    const p = planServeInstall({ ...input, bundle: null }, installed);
    expect(p.uploads).toEqual([]);
    expect(p.apply).toEqual([]);
    expect(p.changes).toEqual([]);
    expect(p.warnings).toEqual([]);
    expect(p.prepare.map(describeStep).every((s) => s.startsWith("run    install -d "))).toBe(true);
  });

  test("a new commit and a new executable: both uploaded, the checkout fetched (not made again)", () => {
    const p = planServeInstall({ ...input, head: "b".repeat(40), executable: { ...input.executable, sha256: "f".repeat(64) } }, installed);
    expect(p.uploads.map((u) => u.remote)).toEqual(["/usr/local/lib/qdeploy-serve/qdeploy", "/var/lib/qdeploy-serve/upload.bundle"]);
    expect(p.apply.map(describeStep).join("\n")).not.toContain("git init");
    expect(p.apply.map(describeStep).join("\n")).toContain(`checkout -q --force --detach ${"b".repeat(40)}`);
  });

  test("a changed origin is set; no age-keygen and no remote are warnings that say what to do", () => {
    expect(planServeInstall({ ...input, bundle: null, origin: "https://example.com/x.git" }, installed).apply.map(describeStep)).toEqual([
      "run    runuser -u qdeploy-serve -- env HOME=/var/lib/qdeploy-serve git -C /var/lib/qdeploy-serve/repo remote set-url origin https://example.com/x.git",
    ]);
    const p = planServeInstall({ ...input, origin: null }, { ...fresh, ageKeygen: false, go: "/usr/bin/go" });
    expect(p.warnings).toEqual([expect.stringContaining("no origin"), expect.stringContaining("age-keygen is not on the server's host")]);
    expect(p.apply.map(describeStep).join("\n")).not.toContain("age-keygen");
  });

  test("no Caddy: setup first", () => {
    expect(() => planServeInstall(input, { ...fresh, caddy: false })).toThrow("qdeploy setup prod");
  });
});

describe("planServeFinish", () => {
  test("a fresh host: known_hosts, the build sandbox listening, the unit enabled, started, the site validated then loaded", () => {
    const f = planServeFinish(input, fresh, KNOWN, true);
    expect(f.steps.map(describeStep)).toEqual([
      expect.stringMatching(/^write  \/var\/lib\/qdeploy-serve\/.ssh\/known_hosts \(0644/),
      "run    chown qdeploy-serve:qdeploy-serve /var/lib/qdeploy-serve/.ssh/known_hosts",
      expect.stringMatching(/^write  \/etc\/systemd\/system\/qdeploy-build.socket \(0644/),
      expect.stringMatching(/^write  \/etc\/systemd\/system\/qdeploy-build@.service \(0644/),
      "run    systemctl daemon-reload",
      "run    systemctl enable --quiet qdeploy-build.socket",
      "run    systemctl restart qdeploy-build.socket",
      expect.stringMatching(/^write  \/etc\/systemd\/system\/qdeploy-serve.service \(0644/),
      "run    systemctl daemon-reload",
      "run    systemctl enable --quiet qdeploy-serve.service",
      "run    systemctl restart qdeploy-serve.service",
      expect.stringMatching(/^run    bash -c [\s\S]* serve-wait \/run\/qdeploy-serve\/http.sock qdeploy-serve.service$/),
      expect.stringMatching(/^write  \/etc\/caddy\/qdeploy\/qdeploy-serve.caddy.new \(0644/),
      expect.stringMatching(/^run    bash -c [\s\S]* serve-site$/),
    ]);
    expect(f.steps[0]).toMatchObject({ content: "203.0.113.10 ssh-ed25519 AAAAhost1\n[127.0.0.1]:2222 ssh-ed25519 AAAAhost2\n" });
  });

  test("installed already: nothing; a new executable restarts the server and nothing else", () => {
    expect(planServeFinish(input, installed, KNOWN, false)).toEqual({ steps: [], changes: [] });
    const restart = planServeFinish(input, installed, KNOWN, true).steps.map(describeStep);
    expect(restart).toEqual(["run    systemctl restart qdeploy-serve.service", expect.stringMatching(/ serve-wait \/run\/qdeploy-serve\/http.sock qdeploy-serve.service$/)]);
    expect(planServeFinish(input, { ...installed, active: false }, KNOWN, false).changes).toEqual(["started the server"]);
    expect(planServeFinish(input, { ...installed, buildActive: false }, KNOWN, false).changes).toEqual(["the build sandbox listens on /run/qdeploy-build.sock (qdeploy-build.socket, qdeploy-build@.service)"]);
  });
});

describe("the executable", () => {
  test("Bun's targets by uname -m", () => {
    expect(bunTarget("x86_64")).toBe("bun-linux-x64");
    expect(bunTarget("aarch64")).toBe("bun-linux-arm64");
    expect(() => bunTarget("armv7l")).toThrow("x86_64 and aarch64");
  });

  test("compiled once per source (Bun's output differs build to build), it carries the server scripts and runs from anywhere", async () => {
    const cache = path.join(dir, "cache");
    const logs: string[] = [];
    const a = await serverExecutable("x86_64", cache, (l) => logs.push(l));
    const b = await serverExecutable("x86_64", cache, (l) => logs.push(l));
    expect(b).toEqual(a);
    expect(logs).toEqual(["compiling qdeploy for bun-linux-x64 (bun build --compile)"]);
    // The switch script's text is inside (an embedded asset, not a file read at run time).
    expect(readFileSync(a.local).includes(Buffer.from(switchScript.split("\n").slice(0, 5).join("\n")))).toBe(true);
    // Its command table, and the command modules it loads when one runs, are inside too.
    const r = Bun.spawnSync([a.local, "serve", "--help"], { cwd: "/", stdout: "pipe" });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain("--install ENV");
    const v = Bun.spawnSync([a.local, "--version"], { cwd: "/", stdout: "pipe" });
    expect(v.stdout.toString()).toStartWith("qdeploy ");
  }, 120_000);
});

describe("waiting for the server", () => {
  test("the wait returns once the server's socket is there, not before", async () => {
    const socket = path.join(dir, "wait", "http.sock");
    const t0 = performance.now();
    const wait = Bun.spawn(["bash", "-c", WAIT_FOR_SERVER, "serve-wait", socket, "qdeploy-serve.service"], { stderr: "pipe" });
    await Bun.sleep(1200);
    mkdirSync(path.dirname(socket));
    const server = Bun.serve({ unix: socket, fetch: () => Response.json({ ok: true }) });
    try {
      expect(await wait.exited).toBe(0);
      expect(performance.now() - t0).toBeGreaterThan(1100);
    } finally {
      server.stop(true);
    }
  });
});
