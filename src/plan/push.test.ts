import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { helloConfig as cfg } from "../../test/fixtures/config.ts";
import { freshHostFacts, type HostFacts, parseFacts, type ReleaseRecord } from "./facts.ts";
import { patchBase, planPush, planPrune, rollbackTarget } from "./push.ts";
import { planRollback } from "./rollback.ts";
import { renderBatchScript, STEP_MARK } from "./script.ts";
import { describeStep, type Step } from "./steps.ts";

const host = cfg.hosts[0]!;
const SHA = "a".repeat(64);
const rel = (id: string, activated = true, sha256 = SHA): ReleaseRecord => ({ id, created: "", git: null, sha256, by: "t", configDigest: "", activated });

function facts(over: Partial<HostFacts> = {}): HostFacts {
  return { ...freshHostFacts(host, "x86_64"), caddy: true, nft: true, webPorts: [8101, 8102], ...over };
}

const push = (f: HostFacts, secrets: Record<string, string> = {}, config = cfg) =>
  planPush({
    config,
    facts: [f],
    artifacts: { x86_64: { binaries: { hello: { path: "/b/" + SHA, sha256: SHA, size: 1000 } } } },
    releaseId: "20261122010203",
    created: "2026-11-22T01:02:03Z",
    git: "abc",
    who: "me@here",
    secrets,
    newDigestKey: "ab".repeat(32),
  });

const lines = (steps: Step[]) => steps.map(describeStep);

describe("planPush", () => {
  test("a fresh host gets setup, the upload, the release and the switch", () => {
    const p = push(facts());
    const h = p.hosts[0]!;
    expect(lines(h.setup).map((l) => l.split(" (")[0])).toEqual([
      "run    install -d -m 0755 /srv/qdeploy/hello /srv/qdeploy/hello/blobs /srv/qdeploy/hello/releases /srv/qdeploy/hello/slots /etc/caddy/qdeploy",
      "run    install -d -m 0755 /etc/systemd/system/caddy.service.d",
      "write  /etc/systemd/system/caddy.service.d/qdeploy.conf",
      "run    install -d -m 0755 /etc/qdeploy/firewall",
      "write  /etc/qdeploy/firewall/apply",
      "write  /etc/systemd/system/qdeploy-firewall.service",
      "run    systemctl daemon-reload",
      "write  /etc/caddy/Caddyfile",
      "run    systemctl enable --quiet caddy",
      "run    systemctl restart caddy",
      "write  /srv/qdeploy/hello/switch",
      "write  /etc/qdeploy/firewall/hello.ports",
      "run    systemctl enable --quiet qdeploy-firewall.service",
      "run    /etc/qdeploy/firewall/apply",
    ]);
    expect(lines(h.upload)).toEqual([`upload /b/${SHA} -> /srv/qdeploy/hello/blobs/${SHA} (1000 bytes raw, sha256 aaaaaaaaaaaa)`]);
    const d = "/srv/qdeploy/hello/releases/20261122010203";
    expect(lines(h.release).map((l) => l.split(" (")[0])).toEqual([
      "write  /srv/qdeploy/hello/digest.key",
      `run    /srv/qdeploy/hello/switch link 20261122010203`,
      `write  ${d}/env`,
      `write  ${d}/switch.conf`,
      `write  ${d}/site.caddy`,
      `write  ${d}/units/hello-job-cleanup.service`,
      `write  ${d}/units/hello-job-cleanup.timer`,
      `write  ${d}/units/hello-restart.service`,
      `write  ${d}/units/hello-restart.timer`,
      `write  ${d}/units/hello-usage.service`,
      `write  ${d}/units/hello-usage.timer`,
      `write  ${d}/units/hello-web@.service`,
      `write  ${d}/units/hello-worker@.service`,
      `write  ${d}/release.json`,
    ]);
    // The prune runs beside the switch (async), started first.
    expect(lines(h.activate)).toEqual([
      "run    find /srv/qdeploy/hello/blobs -maxdepth 1 -type f -links 1 -mmin +10 -name '[0-9a-f]*' -delete (beside the steps after it)",
      "run    /srv/qdeploy/hello/switch activate 20261122010203 me@here",
    ]);
  });

  test("a binary already on the host is not uploaded", () => {
    const h = push(facts({ blobs: [SHA] })).hosts[0]!;
    expect(h.upload).toEqual([]);
    expect(h.notes).toEqual(["slug: 0 files, 0 B; all already on the host", "binary aaaaaaaaaaaa is already on the host: nothing to upload"]);
  });

  test("a new binary goes as a patch against the live release's, when the host still has that blob", () => {
    const OLD = "b".repeat(64);
    const live = { ...rel("20261101000000", true, OLD), binaries: { hello: OLD } };
    const h = push(facts({ live: live.id, releases: [live], blobs: [OLD] })).hosts[0]!;
    expect(h.upload[0]).toMatchObject({ kind: "upload", sha256: SHA, base: { local: `/b/${OLD}`, remote: `/srv/qdeploy/hello/blobs/${OLD}`, sha256: OLD } });
    expect(describeStep(h.upload[0]!)).toContain(`as a patch against ${OLD.slice(0, 12)} if zstd can`);
    // The blob pruned, or no release live: the whole file.
    expect(push(facts({ live: live.id, releases: [live], blobs: [] })).hosts[0]!.upload[0]).not.toHaveProperty("base");
    expect(push(facts({ live: null, releases: [live], blobs: [OLD] })).hosts[0]!.upload[0]).not.toHaveProperty("base");
  });

  test("patchBase: the same program's build, else the primary one's; never the new blob itself", () => {
    const live = { ...rel("1", true, "p".repeat(64)), binaries: { web: "w".repeat(64), worker: "k".repeat(64) } };
    const f = { live: "1", releases: [live], blobs: ["w".repeat(64), "k".repeat(64), "p".repeat(64)] };
    expect(patchBase(f, ["worker"], "n".repeat(64))).toBe("k".repeat(64));
    expect(patchBase(f, ["renamed"], "n".repeat(64))).toBe("p".repeat(64));
    expect(patchBase(f, ["web"], "w".repeat(64))).toBeNull();
  });

  test("the env file is 0600 and marked secret; release.json holds no secret value", () => {
    const h = push(facts(), { API_TOKEN: "s3cr3t-value" }).hosts[0]!;
    const env = h.release.find((s) => s.kind === "write" && s.path.endsWith("/env"));
    expect(env).toMatchObject({ mode: 0o600, secret: true });
    expect(env?.kind === "write" && env.content).toContain('API_TOKEN="s3cr3t-value"');
    const meta = h.release.find((s) => s.kind === "write" && s.path.endsWith("release.json"));
    expect(meta?.kind === "write" && meta.content).not.toContain("s3cr3t");
    expect(describeStep(env!)).toContain("secret");
    expect(describeStep(env!)).not.toContain("s3cr3t");
  });

  test("release.json is written atomically: a full disk leaves no truncated release.json", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-full-"));
    try {
      const h = push(facts()).hosts[0]!;
      const meta = h.release.find((s) => s.kind === "write" && s.path.endsWith("release.json"))!;
      const step = { ...meta, path: path.join(dir, "release.json") } as Step;
      // ulimit -f 0: every write fails with EFBIG, as on a full disk.
      const r = Bun.spawnSync(["bash", "-c", `trap '' XFSZ; ulimit -f 0; bash -s`], {
        stdin: new TextEncoder().encode(renderBatchScript([step])),
        stderr: "pipe",
      });
      expect(r.exitCode).not.toBe(0);
      expect(readdirSync(dir).filter((f) => f === "release.json")).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("switch.conf tells the server what to run", () => {
    const h = push(facts()).hosts[0]!;
    const conf = h.release.find((s) => s.kind === "write" && s.path.endsWith("switch.conf"));
    expect(conf?.kind === "write" && conf.content).toMatch(
      /^WEB=1\nHEALTH=\/healthz\nHEALTH_TIMEOUT=60\nPORT_A=8101\nPORT_B=8102\nPROCS=worker:2\nTIMERS='hello-restart.timer hello-job-cleanup.timer hello-usage.timer'\nCADDY_SETTLE=0\nSTANDBY=900\nUNITS_DIGEST=[0-9a-f]{64}\n$/,
    );
  });

  test("web.standby: \"0\" keeps no standby (STANDBY=0, not a second's); a fraction rounds up", () => {
    const standby = (standbySec: number) => {
      const p = push(facts(), {}, { ...cfg, web: { ...cfg.web!, standbySec } });
      const conf = p.hosts[0]!.release.find((s) => s.kind === "write" && s.path.endsWith("switch.conf"));
      return conf?.kind === "write" ? /^STANDBY=(.*)$/m.exec(conf.content)?.[1] : undefined;
    };
    expect([standby(0), standby(1.5), standby(900)]).toEqual(["0", "2", "900"]);
  });
});

describe("web ports from the hosts", () => {
  test("each host's site and switch.conf use the pair that host gave the app", () => {
    const both = [facts(), facts({ host: { ...host, label: "b" }, webPorts: [8003, 8004] })];
    const two = planPush({
      config: { ...cfg, hosts: both.map((f) => f.host) },
      facts: both,
      artifacts: { x86_64: { binaries: { hello: { path: "/b/" + SHA, sha256: SHA, size: 1000 } } } },
      releaseId: "20261122010203",
      created: "c",
      git: null,
      who: "me",
      secrets: {},
      newDigestKey: "ab".repeat(32),
    });
    const file = (i: number, end: string) => {
      const s = two.hosts[i]!.release.find((x) => x.kind === "write" && x.path.endsWith(end));
      return s?.kind === "write" ? s.content : "";
    };
    expect(file(0, "site.caddy")).toContain("reverse_proxy 127.0.0.1:8101 127.0.0.1:8102 {");
    expect(file(1, "site.caddy")).toContain("reverse_proxy 127.0.0.1:8003 127.0.0.1:8004 {");
    expect(file(0, "switch.conf")).toContain("PORT_A=8101\nPORT_B=8102\n");
    expect(file(1, "switch.conf")).toContain("PORT_A=8003\nPORT_B=8004\n");
  });

  test("a host that claimed no ports is a bug, not a guess", () => {
    expect(() => push(facts({ webPorts: null }))).toThrow("reported no web ports for hello");
  });
});

describe("pruning and rollback targets", () => {
  test("keeps the newest N, the new one and the rollback target", () => {
    const existing = ["01", "02", "03", "04", "05", "06"].map((id) => rel(id, id !== "06"));
    // 07 is new; 06 was refused (never activated), so 05 is the rollback target and stays
    // although only the newest two are kept.
    const steps = planPrune({ ...cfg, keepReleases: 2 }, { releases: existing, partial: [], live: "05" }, "07");
    expect(lines(steps).filter((l) => l.includes("rm -rf"))).toEqual(
      ["04", "03", "02", "01"].map((id) => `run    rm -rf /srv/qdeploy/hello/releases/${id} (beside the steps after it)`),
    );
  });

  test("the rollback target is the newest older release that went live", () => {
    const rs = [rel("01"), rel("02"), rel("03", false), rel("04")];
    expect(rollbackTarget(rs, "04")?.id).toBe("02");
    expect(rollbackTarget(rs, "02")?.id).toBe("01");
    expect(rollbackTarget(rs, "01")).toBeNull();
  });

  test("the rollback target is the release live before the current one, by the audit trail", () => {
    const rs = [rel("01"), rel("02"), rel("03", false), rel("04")];
    // 01, 02, 04 went live, then a rollback to 02: back again goes to 04, not to 01.
    expect(rollbackTarget(rs, "02", ["01", "02", "04", "02"])?.id).toBe("04");
    // 04 live after a rollback to 01 and a push of 04: 01, not the newer 02.
    expect(rollbackTarget(rs, "04", ["02", "01", "04"])?.id).toBe("01");
    // A release in the trail that is gone (pruned) is skipped.
    expect(rollbackTarget([rel("01"), rel("04")], "04", ["01", "02", "04"])?.id).toBe("01");
    // No usable trail (an older qdeploy's host): the newest older release that went live.
    expect(rollbackTarget(rs, "04", ["04"])?.id).toBe("02");
  });

  test("pruning keeps the last good release (the rollback target after the push), however old", () => {
    const existing = ["01", "02", "03", "04", "05", "06"].map((id) => rel(id));
    // 01 is live (rolled back to): it stays with keep_releases = 2, and is 07's rollback target.
    const steps = planPrune({ ...cfg, keepReleases: 2 }, { releases: existing, partial: [], live: "01" }, "07");
    expect(lines(steps).filter((l) => l.includes("rm -rf"))).toEqual(
      ["05", "04", "03", "02"].map((id) => `run    rm -rf /srv/qdeploy/hello/releases/${id} (beside the steps after it)`),
    );
    expect(rollbackTarget([...existing, rel("07")], "07", ["05", "01", "07"])?.id).toBe("01");
  });

  test("rollback plans one switch per host; a release missing on a host is an error", () => {
    const f = facts({ live: "04", releases: [rel("01"), rel("02"), rel("04")] });
    const p = planRollback(cfg, [f], null, "me");
    expect(p.release).toBe("02");
    expect(p.hosts[0]!.release).toEqual([]);
    expect(lines(p.hosts[0]!.activate)).toEqual(["run    /srv/qdeploy/hello/switch activate 02 me"]);
    expect(p.releasePhase).toBeNull(); // a rollback never runs the release phase
    expect(() => planRollback(cfg, [f], "03", "me")).toThrow("release 03 is not on this host (it has: 01, 02, 04)");
    expect(() => planRollback(cfg, [facts({ live: "01", releases: [rel("01")] })], null, "me")).toThrow("no earlier release");
  });
});

describe("release phase", () => {
  const two = [facts(), facts({ host: { host: "10.0.0.2", user: "root", label: "root@10.0.0.2" } })];
  const withRelease = {
    ...cfg,
    hosts: two.map((f) => f.host),
    release: { command: "bin/hello migrate --to \"$DB_URL\" '$literal' $ARGS", timeoutSec: 90 },
  };
  const pushTwo = (config: typeof cfg) =>
    planPush({
      config,
      facts: two,
      artifacts: { x86_64: { binaries: { hello: { path: "/b/" + SHA, sha256: SHA, size: 1000 } } } },
      releaseId: "20261122010203",
      created: "2026-11-22T01:02:03Z",
      git: "abc",
      who: "me@here",
      secrets: {},
      newDigestKey: "ab".repeat(32),
    });

  test("runs once, on the first host, as a transient unit with the process units' user and hardening", () => {
    const p = pushTwo(withRelease);
    const d = "/srv/qdeploy/hello/releases/20261122010203";
    expect(p.releasePhase).not.toBeNull();
    const { host, argv, command, timeoutSec } = p.releasePhase!;
    expect({ host, command, timeoutSec }).toEqual({ host: withRelease.hosts[0]!.label, command: withRelease.release.command, timeoutSec: 90 });
    expect(argv.slice(0, 6)).toEqual([
      "systemd-run", "--wait", "--pipe", "--collect", "--unit=hello-release-20261122010203.service", "--description=hello release phase of 20261122010203",
    ]);
    const props = argv.flatMap((a, i) => (argv[i - 1] === "-p" ? [a] : []));
    for (const p of ["DynamicUser=yes", "User=hello", "StateDirectory=hello", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateUsers=yes",
      "SystemCallFilter=~@privileged @resources", `EnvironmentFile=${d}/env`, `WorkingDirectory=${d}/app`, `Environment=HOME=${d}/app`,
      `Environment=PATH=${d}/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, "RuntimeMaxSec=90s"]) {
      expect(props).toContain(p);
    }
    // The program is the new release's binary; variables are left for systemd to expand from the env file.
    expect(argv.slice(argv.indexOf("--") + 1)).toEqual([`${d}/bin/hello`, "migrate", "--to", "${DB_URL}", "$$literal", "$ARGS"]);
    // Never a unit, never scaled.
    for (const h of p.hosts) expect(h.release.some((s) => s.kind === "write" && s.path.includes("release@"))).toBe(false);
    expect(p.hosts[0]!.notes).toContain(`release phase: ${withRelease.release.command} (once, here, before any host switches)`);
    expect(p.hosts[1]!.notes.some((n) => n.startsWith("release phase"))).toBe(false);
  });

  test("every host's release directory is written before it, every switch after it (activate holds the switch)", () => {
    const p = pushTwo(withRelease);
    for (const h of p.hosts) {
      expect(h.release.some((s) => s.kind === "run" && s.argv.includes("activate"))).toBe(false);
      expect(h.release.at(-1)).toMatchObject({ kind: "write", path: "/srv/qdeploy/hello/releases/20261122010203/release.json" });
      expect(h.activate.at(-1)).toEqual({ kind: "run", argv: ["/srv/qdeploy/hello/switch", "activate", "20261122010203", "me@here"], why: "health-gated switch" });
    }
    expect(pushTwo({ ...withRelease, release: null }).releasePhase).toBeNull();
  });
});

test("parseFacts reads facts.sh's output", () => {
  const text = `arch=aarch64\nuser=root\nsystemd=1\ncaddy=0\nzstd=1\nswitch_sha=\ncaddyfile_sha=\nlive=02\nlive_slot=8001\nlock=\nblobs=${SHA} \nrelease=1 02 {"id":"02","sha256":"${SHA}","by":"x","created":"c","git":null,"configDigest":"d"}\nrelease=0 01 {"id":"01","sha256":"${SHA}","by":"x","created":"c","git":"g","configDigest":"d"}\n`;
  const f = parseFacts(host, text);
  expect(f).toMatchObject({ arch: "aarch64", caddy: false, live: "02", liveSlot: 8001, lock: null, blobs: [SHA] });
  expect(f.releases.map((r) => [r.id, r.activated])).toEqual([["01", false], ["02", true]]);
});

test("a batch script writes files exactly, with their modes, when bash runs it", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "qd-script-"));
  const awkward = "A=\"$HOME\" \\n `x`\nQDEPLOY_EOF\n\n  trailing spaces  ";
  const script = renderBatchScript([
    { kind: "run", argv: ["mkdir", `${dir}/rel`], why: "x" },
    { kind: "write", path: `${dir}/rel/env`, content: awkward, mode: 0o600, why: "y", secret: true, fresh: true },
    { kind: "write", path: `${dir}/conf`, content: "one\n", mode: 0o644, why: "z" },
    { kind: "write", path: `${dir}/tool`, content: "#!/bin/sh\necho hi\n", mode: 0o755, why: "w" },
  ]);
  writeFileSync(`${dir}/conf`, "old");
  const r = Bun.spawnSync(["bash", "-s"], { stdin: new Blob([script]) });
  expect(r.exitCode).toBe(0);
  expect(readFileSync(`${dir}/rel/env`, "utf8")).toBe(awkward);
  expect(readFileSync(`${dir}/conf`, "utf8")).toBe("one\n");
  expect([`${dir}/rel/env`, `${dir}/conf`, `${dir}/tool`].map((f) => (statSync(f).mode & 0o777).toString(8))).toEqual(["600", "644", "755"]);
  expect(readdirSync(dir).sort()).toEqual(["conf", "rel", "tool"]); // no temp files left
  rmSync(dir, { recursive: true });
});

test("a failing step is named by its marker", () => {
  const script = renderBatchScript([
    { kind: "run", argv: ["true"], why: "a" },
    { kind: "run", argv: ["false"], why: "b" },
    { kind: "run", argv: ["true"], why: "c" },
  ]);
  const r = Bun.spawnSync(["bash", "-s"], { stdin: new Blob([script]) });
  expect(r.exitCode).toBe(1);
  expect(r.stderr.toString().trim().split("\n").at(-1)).toBe(`${STEP_MARK}1`);
});

describe("several binaries", () => {
  const [WEB, WORKER, MIGRATE] = ["1".repeat(64), "2".repeat(64), "3".repeat(64)];
  const multi = { ...cfg, processes: { web: "bin/web", worker: "worker --queue default" }, build: { ...cfg.build, binaries: ["migrate", "web", "worker"] } };
  const three = (f: HostFacts) =>
    planPush({
      config: multi,
      facts: [f],
      artifacts: {
        x86_64: {
          binaries: {
            web: { path: `/b/${WEB}`, sha256: WEB, size: 10 },
            worker: { path: `/b/${WORKER}`, sha256: WORKER, size: 20 },
            migrate: { path: `/b/${MIGRATE}`, sha256: MIGRATE, size: 30 },
          },
        },
      },
      releaseId: "20261122010203",
      created: "c",
      git: "abc",
      who: "me",
      secrets: {},
      newDigestKey: "ab".repeat(32),
    });
  /** The release's bin/ links in the tree `switch link` reads (base64 of a tar.gz; short names, no long-name records). */
  const programLinks = (release: Step[]) => {
    const link = release.find((s) => s.kind === "run" && s.argv[1] === "link");
    const tar = gunzipSync(Buffer.from(link?.kind === "run" ? (link.stdin ?? "") : "", "base64"));
    const cut = (at: number, len: number) => tar.subarray(at, at + len).toString().replace(/\0.*$/s, "");
    const found: string[] = [];
    for (let at = 0; at + 512 <= tar.length && tar[at] !== 0; at += 512) {
      const m = /^releases\/20261122010203\/(bin\/.*)$/.exec(cut(at, 100));
      if (m && cut(at + 156, 1) === "1") found.push(`${m[1]} -> ${cut(at + 157, 100)}`);
    }
    return found;
  };

  test("only the blob the host lacks is uploaded; every name is linked", () => {
    const h = three(facts({ blobs: [WEB, MIGRATE] })).hosts[0]!;
    expect(lines(h.upload)).toEqual([`upload /b/${WORKER} -> /srv/qdeploy/hello/blobs/${WORKER} (20 bytes raw, sha256 222222222222)`]);
    expect(h.upload[0]!.why).toBe("the x86_64 binary of worker");
    expect(h.notes).toEqual([
      "slug: 0 files, 0 B; all already on the host",
      `binary of migrate ${MIGRATE.slice(0, 12)} is already on the host: nothing to upload`,
      `binary of web ${WEB.slice(0, 12)} is already on the host: nothing to upload`,
    ]);
    expect(programLinks(h.release)).toEqual([`bin/migrate -> blobs/${MIGRATE}`, `bin/web -> blobs/${WEB}`, `bin/worker -> blobs/${WORKER}`]);
  });

  test("release.json records every binary and keeps sha256 for older readers", () => {
    const h = three(facts()).hosts[0]!;
    expect(h.upload).toHaveLength(3);
    const rec = h.release.find((s) => s.kind === "write" && s.path.endsWith("release.json"));
    const meta = JSON.parse(rec?.kind === "write" ? rec.content : "{}");
    expect(meta.binaries).toEqual({ migrate: MIGRATE, web: WEB, worker: WORKER });
    // No bin/hello here: the first name's.
    expect(meta.sha256).toBe(MIGRATE);
  });

  test("two names of one blob (build.binary beside the only program) upload it once", () => {
    const one = planPush({
      config: { ...cfg, build: { ...cfg.build, binaries: ["web", "hello"] } },
      facts: [facts()],
      artifacts: { x86_64: { binaries: { web: { path: `/b/${WEB}`, sha256: WEB, size: 10 }, hello: { path: `/b/${WEB}`, sha256: WEB, size: 10 } } } },
      releaseId: "20261122010203",
      created: "c",
      git: null,
      who: "me",
      secrets: {},
      newDigestKey: "ab".repeat(32),
    }).hosts[0]!;
    expect(one.upload).toHaveLength(1);
    expect(one.upload[0]!.why).toBe("the x86_64 binary of hello, web");
    expect(programLinks(one.release)).toEqual([`bin/hello -> blobs/${WEB}`, `bin/web -> blobs/${WEB}`]);
    const rec = one.release.find((s) => s.kind === "write" && s.path.endsWith("release.json"));
    expect(JSON.parse(rec?.kind === "write" ? rec.content : "{}").sha256).toBe(WEB);
  });

  test("units run bin/NAME and NAME from the release's bin/", () => {
    const h = three(facts()).hosts[0]!;
    const unit = (n: string) => {
      const s = h.release.find((x) => x.kind === "write" && x.path.endsWith(n));
      return s?.kind === "write" ? s.content : "";
    };
    expect(unit("hello-web@.service")).toContain("/bin/web\n");
    expect(unit("hello-worker@.service")).toContain("/bin/worker --queue default\n");
  });
});

test("facts keep a release's binaries, and an older release.json without them still reads", () => {
  const b = JSON.stringify({ web: SHA });
  const text = `arch=x86_64\nuser=root\nsystemd=1\nrelease=1 02 {"id":"02","sha256":"${SHA}","binaries":${b},"by":"x","created":"c","git":null,"configDigest":"d"}\nrelease=1 01 {"id":"01","sha256":"${SHA}","by":"x","created":"c","git":null,"configDigest":"d"}\n`;
  const f = parseFacts(host, text);
  expect(f.releases.map((r) => r.binaries)).toEqual([undefined, { web: SHA }]);
  expect(f.releases[0]!.sha256).toBe(SHA);
});
