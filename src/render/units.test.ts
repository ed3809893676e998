import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { resolveResources } from "../config/resources.ts";
import type { ResolvedConfig } from "../config/types.ts";
import { helloConfig } from "../../test/fixtures/config.ts";
import { bugMessage } from "../../test/bug.ts";
import { requireTool } from "../../test/tools.ts";
import { layout, processPlace, unitPatterns } from "../server-layout.ts";
import { renderEnvFile } from "./env-file.ts";
import {
  limitLines,
  quoteExecWord,
  renderExecStart,
  renderJobUnits,
  renderProcessUnit,
  renderRestartUnits,
  renderUnits,
  renderWebUnit,
} from "./units.ts";
import { splitCommand } from "./command.ts";
import { parseDuration } from "../util/duration.ts";
import { hostConfig } from "../plan/fleet.ts";

const cfg: ResolvedConfig = helloConfig;

const HARDENING = `DynamicUser=yes
User=hello
StateDirectory=hello
UMask=0077
NoNewPrivileges=yes
CapabilityBoundingSet=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
SystemCallArchitectures=native
# Go needs nothing outside systemd's service set; a denied call fails with EPERM (a Go
# program handles an error) rather than killing the process.
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
ProtectProc=invisible
ProcSubset=pid
DevicePolicy=closed
# Other users (root included) look like "nobody" from inside: files stay readable as before.
PrivateUsers=yes
# Caddy's admin socket: root and caddy only, and not even visible here.
InaccessiblePaths=-/run/caddy
`;

describe("renderWebUnit", () => {
  test("renders hello-web@.service", () => {
    expect(renderWebUnit(cfg)).toBe(`# hello-web@.service: written by qdeploy from the release's deploy.toml; do not edit.
# Instance %i is the loopback port of a web slot (one of the two the host gave the app); the switch starts the idle
# slot, checks its health, moves Caddy to it, then stops the old one.
[Unit]
Description=hello web on 127.0.0.1:%i
Wants=network-online.target
After=network-online.target
# Keep retrying a crashing app instead of giving up after 5 starts in 10 s.
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=/srv/qdeploy/hello/slots/%i/bin/hello serve
Environment=PORT=%i
Environment=QDEPLOY_INSTANCE=%i
EnvironmentFile=/srv/qdeploy/hello/slots/%i/env
# Like Heroku: the release's files are the working directory (read-only: write to
# $STATE_DIRECTORY or /tmp) and HOME, their bin/ first on PATH.
WorkingDirectory=/srv/qdeploy/hello/slots/%i/app
Environment=HOME=/srv/qdeploy/hello/slots/%i/app
Environment=PATH=/srv/qdeploy/hello/slots/%i/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SyslogIdentifier=hello-web
Restart=on-failure
RestartSec=1s
# Like Heroku: SIGTERM to every process of the unit, 30s to finish, then SIGKILL.
KillMode=control-group
KillSignal=SIGTERM
TimeoutStopSec=30s
SendSIGKILL=yes

${HARDENING}
[Install]
WantedBy=multi-user.target
`);
  });

  test("takes the drain time from [web], at least 1 s (0 would mean never SIGKILL)", () => {
    expect(renderWebUnit({ ...cfg, web: { ...cfg.web!, drainSec: 5 } })).toContain("\nTimeoutStopSec=5s\n");
    expect(renderWebUnit({ ...cfg, web: { ...cfg.web!, drainSec: 0 } })).toContain("\nTimeoutStopSec=1s\n");
  });

  test("throws without a web process", () => {
    expect(bugMessage(() => renderWebUnit({ ...cfg, processes: { worker: "hello work" } }))).toContain('no "web" process');
  });
});

describe("renderProcessUnit", () => {
  test("renders hello-worker@.service", () => {
    expect(renderProcessUnit(cfg, "worker")).toBe(`# hello-worker@.service: written by qdeploy from the release's deploy.toml; do not edit.
# Instance %i is 1..scale; every instance runs the live release (/srv/qdeploy/hello/current).
[Unit]
Description=hello worker %i
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=/srv/qdeploy/hello/current/bin/hello work
Environment=QDEPLOY_INSTANCE=%i
EnvironmentFile=/srv/qdeploy/hello/current/env
# Like Heroku: the release's files are the working directory (read-only: write to
# $STATE_DIRECTORY or /tmp) and HOME, their bin/ first on PATH.
WorkingDirectory=/srv/qdeploy/hello/current/app
Environment=HOME=/srv/qdeploy/hello/current/app
Environment=PATH=/srv/qdeploy/hello/current/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SyslogIdentifier=hello-worker
Restart=always
RestartSec=1s
KillMode=control-group
KillSignal=SIGTERM
TimeoutStopSec=30s
SendSIGKILL=yes

${HARDENING}
[Install]
WantedBy=multi-user.target
`);
  });

  test("refuses web, unknown processes and names that cannot be unit names", () => {
    expect(bugMessage(() => renderProcessUnit(cfg, "web"))).toContain("own unit");
    expect(bugMessage(() => renderProcessUnit(cfg, "nope"))).toContain('no process "nope"');
    expect(bugMessage(() => renderProcessUnit({ ...cfg, processes: { "a b": "hello" } }, "a b"))).toContain("may only use");
  });
});

describe("renderRestartUnits", () => {
  test("renders hello-restart.service and .timer", () => {
    expect(renderRestartUnits(cfg)).toEqual({
      service: `# hello-restart.service: written by qdeploy from the release's deploy.toml; do not edit.
# The same zero-downtime restart as \`qdeploy restart\`: the switch starts the live release
# on the idle slot, checks it, moves Caddy over and drains the old one. Runs as root.
[Unit]
Description=hello zero-downtime restart
After=network-online.target

[Service]
Type=oneshot
ExecStart=/srv/qdeploy/hello/switch restart
SyslogIdentifier=hello-restart
`,
      timer: `# hello-restart.timer: written by qdeploy from the release's deploy.toml; do not edit.
[Unit]
Description=hello scheduled restart (Sun *-*-* 04:00:00)

[Timer]
OnCalendar=Sun *-*-* 04:00:00
RandomizedDelaySec=900s
# A restart missed while the host was down is pointless after the boot that started it.
Persistent=false
Unit=hello-restart.service

[Install]
WantedBy=timers.target
`,
    });
  });

  test("a staggered host sleeps its offset before the switch; the timer draws from its own jitter", () => {
    const units = renderRestartUnits({ ...cfg, restart: { at: "daily", offsetSec: 300, jitterSec: 150 } })!;
    expect(units.service).toBe(`# hello-restart.service: written by qdeploy from the release's deploy.toml; do not edit.
# The same zero-downtime restart as \`qdeploy restart\`: the switch starts the live release
# on the idle slot, checks it, moves Caddy over and drains the old one. Runs as root.
[Unit]
Description=hello zero-downtime restart
After=network-online.target

[Service]
Type=oneshot
ExecStartPre=/bin/sleep 300
ExecStart=/srv/qdeploy/hello/switch restart
SyslogIdentifier=hello-restart
`);
    expect(units.timer).toContain("\nOnCalendar=daily\nRandomizedDelaySec=150s\n");
  });

  // Each host's restart units as hostConfig (src/plan/fleet.ts) gives them: n = 1 is as before.
  const staggerRows: [number, string, [string | null, string][]][] = [
    [1, "15m", [[null, "900s"]]],
    [2, "15m", [[null, "225s"], ["450", "225s"]]],
    [3, "15m", [[null, "150s"], ["300", "150s"], ["600", "150s"]]],
    [1, "0", [[null, "0s"]]],
    [2, "0", [[null, "30s"], ["60", "30s"]]],
    [3, "0", [[null, "30s"], ["60", "30s"], ["120", "30s"]]],
  ];
  for (const [n, jitter, want] of staggerRows) {
    test(`${n} host${n > 1 ? "s" : ""}, jitter ${jitter}: sleep and RandomizedDelaySec per host`, () => {
      const hosts = ["a", "b", "c"].slice(0, n).map((h) => ({ host: h, label: h }));
      const fleet: ResolvedConfig = { ...cfg, hosts, restart: { at: "daily", jitterSec: parseDuration(jitter) } };
      const got = hosts.map((h) => {
        const units = renderRestartUnits(hostConfig(fleet, h))!;
        return [/^ExecStartPre=\/bin\/sleep (\d+)$/m.exec(units.service)?.[1] ?? null, /^RandomizedDelaySec=(.*)$/m.exec(units.timer)![1]!];
      });
      expect(got).toEqual(want);
    });
  }

  test("is null without [restart]; refuses a multi-line schedule", () => {
    expect(renderRestartUnits({ ...cfg, restart: null })).toBeNull();
    expect(bugMessage(() => renderRestartUnits({ ...cfg, restart: { at: "daily\nExecStart=/bin/sh", jitterSec: 0 } }))).toContain("restart.at");
  });
});

describe("renderJobUnits", () => {
  test("renders hello-job-cleanup.service and .timer", () => {
    expect(renderJobUnits(cfg, cfg.jobs[0]!)).toEqual({
      service: `# hello-job-cleanup.service: written by qdeploy from the release's deploy.toml; do not edit.
# Started by hello-job-cleanup.timer; runs once on the live release (/srv/qdeploy/hello/current).
[Unit]
Description=hello job cleanup
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/srv/qdeploy/hello/current/bin/hello cleanup --older-than 7d
EnvironmentFile=/srv/qdeploy/hello/current/env
# Like Heroku: the release's files are the working directory (read-only: write to
# $STATE_DIRECTORY or /tmp) and HOME, their bin/ first on PATH.
WorkingDirectory=/srv/qdeploy/hello/current/app
Environment=HOME=/srv/qdeploy/hello/current/app
Environment=PATH=/srv/qdeploy/hello/current/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SyslogIdentifier=hello-job-cleanup
KillMode=control-group
KillSignal=SIGTERM
TimeoutStopSec=30s
# A run that hangs is stopped after this long: a timer never starts a unit still running.
TimeoutStartSec=3600s
SendSIGKILL=yes

${HARDENING}`,
      timer: `# hello-job-cleanup.timer: written by qdeploy from the release's deploy.toml; do not edit.
[Unit]
Description=hello job cleanup (hourly)

[Timer]
OnCalendar=hourly
RandomizedDelaySec=60s
# Like cron: a run missed while the host was down is skipped, not made up at boot.
Persistent=false
Unit=hello-job-cleanup.service

[Install]
WantedBy=timers.target
`,
    });
  });
});

describe("renderUnits", () => {
  test("names every unit a release installs", () => {
    const units = renderUnits(cfg);
    expect(Object.keys(units)).toEqual([
      "hello-web@.service",
      "hello-worker@.service",
      "hello-restart.service",
      "hello-restart.timer",
      "hello-job-cleanup.service",
      "hello-job-cleanup.timer",
      "hello-usage.service",
      "hello-usage.timer",
    ]);
    expect(units["hello-web@.service"]).toBe(renderWebUnit(cfg));
    expect(units["hello-job-cleanup.timer"]).toBe(renderJobUnits(cfg, cfg.jobs[0]!).timer);
  });

  test("services a release enables are WantedBy=multi-user.target, timers timers.target: where switch.sh's link_units looks for their links", () => {
    const units = renderUnits({ ...cfg, web: { ...cfg.web!, watchdogSec: 10 } });
    expect(Object.keys(units)).toContain("hello-watchdog.timer");
    for (const [name, text] of Object.entries(units)) {
      const wanted = /^WantedBy=(.*)$/m.exec(text)?.[1];
      if (wanted !== undefined) expect([name, wanted]).toEqual([name, name.endsWith(".timer") ? "timers.target" : "multi-user.target"]);
    }
  });

  test("a worker-only app without restart or jobs", () => {
    const units = renderUnits({ ...cfg, processes: { worker: "hello work" }, web: null, restart: null, jobs: [] });
    expect(Object.keys(units)).toEqual(["hello-worker@.service", "hello-usage.service", "hello-usage.timer"]);
  });
});

describe("ExecStart=", () => {
  // [Procfile command, ExecStart= value] with releaseDir /R.
  const table: [string, string][] = [
    ["hello serve", "/R/bin/hello serve"],
    ["  hello   serve  ", "/R/bin/hello serve"],
    ["hello --name 'a b'", '/R/bin/hello --name "a b"'],
    [`hello "say \\"hi\\"" 'it''s'`, '/R/bin/hello "say \\"hi\\"" its'],
    ["hello '' x", '/R/bin/hello "" x'],
    ["hello 100% '$HOME' \\${PORT} \"\\$x\"", '/R/bin/hello "100%%" $$HOME "$${PORT}" $$x'],
    // $VAR and ${VAR} expand from the unit's environment, as on Heroku: systemd does it.
    ["hello --port $PORT", "/R/bin/hello --port $PORT"],
    ["hello --port=$PORT", '/R/bin/hello "--port=${PORT}"'],
    ["hello ${PORT}", "/R/bin/hello $PORT"], // unquoted: split at whitespace, as sh does
    ['hello "$ARGS"', '/R/bin/hello "${ARGS}"'],
    ['hello "a $X b"', '/R/bin/hello "a ${X} b"'],
    ["hello $A$B", '/R/bin/hello "${A}${B}"'],
    ["hello 'cost: $5' $ 50%$", '/R/bin/hello "cost: $$5" $$ "50%%$$"'],
    ["bin/hello serve", "/R/bin/hello serve"],
    ["hello a\\ b back\\\\slash", '/R/bin/hello "a b" "back\\\\slash"'],
    ["hello 'x;y' '*' '#' \"'\"", "/R/bin/hello \"x;y\" \"*\" \"#\" \"'\""],
    ["hello ';'", '/R/bin/hello ";"'],
    ["hello 'tab\there' 'nl\nhere'", '/R/bin/hello "tab\\there" "nl\\nhere"'],
    ["hello 'bell\x07'", '/R/bin/hello "bell\\x07"'],
    ["hello héllo", '/R/bin/hello "héllo"'],
    ["/usr/bin/env FOO=1 hello", "/usr/bin/env FOO=1 hello"],
    ["sleep 10", "sleep 10"],
    // ./bin/NAME is bin/NAME; another relative path is the app's file, under the release's app/.
    ["./bin/hello serve", "/R/bin/hello serve"],
    ["./scripts/run.sh --port $PORT", "/R/app/scripts/run.sh --port $PORT"],
    ["'./my app/run 100%'", '"/R/app/my app/run 100%%"'],
    // What needs a shell runs through bash: $ doubled (bash expands it, not systemd), % doubled.
    ["hello ${X:-1} $1", '/bin/bash -c "hello $${X:-1} $$1"'],
    ["export A=1 && hello", "/bin/bash -c \"export A=1 && hello\""],
    // ... and where bash would outlive its first program, a trap first (TERM_AFTER_CHILDREN).
    ["hello a | tee x", `/bin/bash -c "trap 'trap - TERM; kill -TERM $$$$' TERM; hello a | tee x"`],
  ];
  for (const [command, expected] of table) {
    test(JSON.stringify(command), () => expect(renderExecStart(cfg, command, "/R")).toBe(expected));
  }

  // check reads every command the same way first (src/render/command.test.ts): a bug here.
  test("asserts against what systemd would misread and what names no program", () => {
    expect(bugMessage(() => renderExecStart(cfg, "", "/R", "processes.web"))).toBe("processes.web: the command is empty");
    expect(bugMessage(() => renderExecStart(cfg, "-hello", "/R"))).toContain("ExecStart= prefix");
    expect(bugMessage(() => renderExecStart(cfg, "hello 'a", "/R"))).toContain("unterminated '");
    expect(bugMessage(() => renderExecStart(cfg, "hello 'a && b", "/R"))).toContain("unterminated '");
    expect(bugMessage(() => renderExecStart(cfg, "bin/web", "/R"))).toContain('"bin/web" is not a binary of the release');
    expect(bugMessage(() => renderExecStart(cfg, "hello && bin/web", "/R"))).toContain('"bin/web" is not a binary of the release');
    expect(bugMessage(() => renderExecStart(cfg, "$BIN serve", "/R"))).toContain("cannot come from a variable");
    expect(bugMessage(() => quoteExecWord("a\0b"))).toContain("NUL");
  });

  test("splitCommand follows sh word splitting", () => {
    expect(splitCommand(`a "b c" 'd e'f g\\ h "\\$x \\q"`)).toEqual(["a", "b c", "d ef", "g h", "$x \\q"]);
  });

  test("the binaries of the release (cfg.build.binaries) may be named NAME or bin/NAME", () => {
    const several = { ...cfg, build: { ...cfg.build, binaries: ["web", "worker"] } };
    expect(renderExecStart(several, "bin/worker --queue default", "/R")).toBe("/R/bin/worker --queue default");
    expect(renderExecStart(several, "web", "/R")).toBe("/R/bin/web");
    expect(() => renderExecStart(several, "hello", "/R")).not.toThrow(); // a command on PATH
    expect(bugMessage(() => renderExecStart(several, "bin/hello", "/R"))).toContain('use "web" (or "bin/web"), "worker" (or "bin/worker")');
  });
});

// ---- The real tools judge the real output. ----

const DIST_UNITS = "/usr/lib/systemd/system";

// A missing tool fails these tests naming it (npm test installs it); never a skip.
describe("limitLines", () => {
  test("none: no line at all, so a unit without [resources] does not change", () => {
    expect(limitLines("web", undefined)).toBe("");
    expect(limitLines("web", resolveResources({}))).toBe("");
  });

  test("memory: killed over it, no swap, Go's GC aiming at 90 %; CPUs as a quota; tasks and files", () => {
    expect(limitLines("worker", resolveResources({ size: "standard-2x", cpu: 1.5, tasks: 100, nofile: 8192 }))).toBe(
      [
        "# [resources.worker]: standard-2x, per instance.",
        `MemoryMax=${1024 ** 3}`,
        "MemorySwapMax=0",
        `Environment=GOMEMLIMIT=${Math.floor(1024 ** 3 * 0.9)}`,
        "CPUWeight=200",
        "CPUQuota=150%",
        "TasksMax=100",
        "LimitNOFILE=8192",
        "",
      ].join("\n"),
    );
    expect(limitLines("web", resolveResources({ cpu: 0.333 }))).toContain("CPUQuota=33.3%");
  });
});

describe("unitPatterns", () => {
  test("what `logs` asks journalctl for: every unit renderUnits writes, the watchdog's when it is on; not the usage sampler's (it prints nothing)", () => {
    const on: ResolvedConfig = { ...cfg, web: { ...cfg.web!, watchdogSec: 30 } };
    const patterns = unitPatterns(on.app, Object.keys(on.processes), on.jobs.map((j) => j.name), !!on.restart, true);
    const matches = (name: string) => patterns.some((p) => new RegExp(`^${p.replace(/[.@]/g, "\\$&").replace("*", "[^.]+")}$`).test(name.replace("@.service", "@1.service")));
    expect(Object.keys(renderUnits(on)).filter((n) => !matches(n))).toEqual(["hello-usage.service", "hello-usage.timer"]);
    expect(unitPatterns(cfg.app, ["web"], [], false)).toEqual(["hello-web@*.service"]);
  });
});

describe("systemd-analyze verify", () => {
  let root = "";
  beforeAll(() => {
    requireTool("systemd-analyze");
    root = mkdtempSync(join(tmpdir(), "qdeploy-verify-"));
    cpSync(DIST_UNITS, join(root, DIST_UNITS), { recursive: true, verbatimSymlinks: true });
  });
  afterAll(() => root && rmSync(root, { recursive: true, force: true }));

  /** Installs units into a fresh etc/ with the executables and env files they name, then verifies. */
  function verify(units: Record<string, string>, names: string[]): string {
    const unitDir = join(root, layout(cfg.app).unitDir);
    rmSync(unitDir, { recursive: true, force: true });
    rmSync(join(root, "srv"), { recursive: true, force: true });
    mkdirSync(unitDir, { recursive: true });
    for (const [name, text] of Object.entries(units)) writeFileSync(join(unitDir, name), text);
    const l = layout(cfg.app);
    for (const dir of [l.slot(8247), l.current]) {
      for (const [file, mode] of [["bin/hello", 0o755], ["env", 0o600], ["app/scripts/work.sh", 0o755]] as const) {
        const path = join(root, dir, file);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, file === "env" ? renderEnvFile(cfg.vars) : "#!/bin/sh\n");
        chmodSync(path, mode);
      }
    }
    for (const program of [l.switchScript, "/bin/sleep", "/bin/bash"]) {
      mkdirSync(dirname(join(root, program)), { recursive: true });
      writeFileSync(join(root, program), "#!/bin/sh\n");
      chmodSync(join(root, program), 0o755);
    }
    const r = Bun.spawnSync(["systemd-analyze", "verify", `--root=${root}`, ...names], { stderr: "pipe", stdout: "pipe" });
    // Exit 0 is not enough: unknown keys are only printed (FACTS.md).
    return `${r.stdout.toString()}${r.stderr.toString()}${r.exitCode === 0 ? "" : `exit ${r.exitCode}`}`;
  }

  const instances = [
    "hello-web@8247.service",
    "hello-worker@1.service",
    "hello-restart.service",
    "hello-restart.timer",
    "hello-job-cleanup.service",
    "hello-job-cleanup.timer",
    "hello-usage.service",
    "hello-usage.timer",
  ];

  test("every rendered unit verifies with no output", () => {
    expect(verify(renderUnits(cfg), instances)).toBe("");
  });

  test("a staggered restart (ExecStartPre sleep) verifies", () => {
    const units = renderUnits({ ...cfg, restart: { at: "daily", offsetSec: 128.57142857142858, jitterSec: 64.28571428571429 } });
    expect(units["hello-restart.service"]).toContain("\nExecStartPre=/bin/sleep 129\nExecStart=");
    expect(verify(units, instances)).toBe("");
  });

  test("fractional durations (every duration key) render as systemd spans that verify", () => {
    const frac: ResolvedConfig = {
      ...cfg,
      web: { ...cfg.web!, drainSec: 1.5, healthTimeoutSec: 0.5 },
      restart: { at: "hourly", jitterSec: 0.25 },
      jobs: [{ ...cfg.jobs[0]!, jitterSec: 1e-7, timeoutSec: 2.5 }],
    };
    const units = renderUnits(frac);
    expect(units["hello-web@.service"]).toContain("\nTimeoutStopSec=1500ms\n");
    expect(units["hello-worker@.service"]).toContain("\nTimeoutStopSec=1500ms\n");
    expect(units["hello-job-cleanup.service"]).toContain("\nTimeoutStopSec=1500ms\n");
    expect(units["hello-restart.timer"]).toContain("\nRandomizedDelaySec=250ms\n");
    // 0.1 µs rounds up to a millisecond, never "1e-7s".
    expect(units["hello-job-cleanup.timer"]).toContain("\nRandomizedDelaySec=1ms\n");
    expect(units["hello-job-cleanup.service"]).toContain("\nTimeoutStartSec=2500ms\n");
    expect(verify(units, instances)).toBe("");
  });

  test("a unit with odd arguments verifies too", () => {
    const odd = { ...cfg, processes: { ...cfg.processes, web: `hello serve "a b" '100%' '$HOME' ';' '' --port=$PORT $ARGS "\${LOG_LEVEL}x"` } };
    expect(verify(renderUnits(odd), ["hello-web@8247.service"])).toBe("");
  });

  test("a bash line (with its trap, `$` and `%`) and a file of the app verify", () => {
    const lines = {
      ...cfg,
      processes: { web: "WEB_SERVER_PORT=$PORT hello serve 2>&1 | tee /tmp/100% ${X:-$HOME}", worker: "./scripts/work.sh" },
    };
    const units = renderUnits(lines);
    expect(units["hello-web@.service"]).toContain(`\nExecStart=/bin/bash -c "trap 'trap - TERM; kill -TERM $$$$' TERM; WEB_SERVER_PORT=$$PORT hello serve 2>&1 | tee /tmp/100%% $\${X:-$$HOME}"\n`);
    expect(verify(units, ["hello-web@8247.service", "hello-worker@1.service"])).toBe("");
  });

  test("[resources] limits land in every instance's unit and verify; without them the unit is as before", () => {
    const limited: ResolvedConfig = {
      ...cfg,
      resources: { web: resolveResources({ size: "standard-2x", cpu: 1.5 }), worker: resolveResources({ memory: "64M", tasks: 32, nofile: 1024 }) },
    };
    const units = renderUnits(limited);
    expect(units["hello-web@.service"]).toContain(`\nSendSIGKILL=yes\n# [resources.web]: standard-2x, per instance.\nMemoryMax=1073741824\nMemorySwapMax=0\nEnvironment=GOMEMLIMIT=966367641\nCPUWeight=200\nCPUQuota=150%\n\nDynamicUser=yes\n`);
    expect(units["hello-worker@.service"]).toContain("\nMemoryMax=67108864\nMemorySwapMax=0\nEnvironment=GOMEMLIMIT=60397977\nTasksMax=32\nLimitNOFILE=1024\n\nDynamicUser=yes\n");
    expect(renderUnits(cfg)["hello-web@.service"]).toContain("\nSendSIGKILL=yes\n\nDynamicUser=yes\n");
    expect(verify(units, instances)).toBe("");
  });

  test("web.watchdog: its service runs the switch's look every 10 s; the units verify; off, there are none", () => {
    const on: ResolvedConfig = { ...cfg, web: { ...cfg.web!, watchdogSec: 30 } };
    const units = renderUnits(on);
    expect(units["hello-watchdog.service"]).toContain("\nExecStart=/srv/qdeploy/hello/switch watchdog\n");
    expect(units["hello-watchdog.service"]).toContain("Description=hello web watchdog (30s)");
    expect(units["hello-watchdog.timer"]).toContain("\nOnActiveSec=10s\nOnUnitActiveSec=10s\nAccuracySec=1s\nUnit=hello-watchdog.service\n");
    expect(verify(units, [...instances, "hello-watchdog.service", "hello-watchdog.timer"])).toBe("");
    expect(Object.keys(renderUnits(cfg)).filter((n) => n.includes("watchdog"))).toEqual([]);
    expect(Object.keys(renderUnits({ ...on, web: null, processes: { worker: "hello work" } })).filter((n) => n.includes("watchdog"))).toEqual([]);
  });

  test("the check can fail: an unknown key and a missing binary are reported", () => {
    const units = renderUnits(cfg);
    const broken = { ...units, "hello-worker@.service": `${units["hello-worker@.service"]}[Service]\nProtectEverything=yes\n` };
    expect(verify(broken, ["hello-worker@1.service"])).toContain("Unknown key 'ProtectEverything'");
    expect(verify(units, ["hello-web@8001.service"])).toContain("is not executable");
  });
});

// A real systemd (a user manager in a private mount namespace, since this machine's PID 1 is
// not systemd) runs the rendered ExecStart= and EnvironmentFile= and we compare what the
// process received. Needs root for the mount namespace; the VM e2e suite covers the rest.
let userManager = "";
describe("real systemd round trip", () => {
  beforeAll(() => {
    for (const tool of ["unshare", "systemctl"]) requireTool(tool);
    userManager = requireTool("/usr/lib/systemd/systemd");
    if (process.getuid?.() !== 0) throw new Error("the real systemd round trip needs root (a private mount namespace); run the tests as root");
  });

  test("argv and environment reach the process exactly", () => {
    const dir = mkdtempSync(join(tmpdir(), "qdeploy-run-"));
    try {
      const args = ["a b", "", ";", "100%", "$HOME", "${PORT}", 'q"uote', "it's", "back\\slash", "nl\nx", "tab\tx", "cr\rx", "bell\x07", "é", "#"];
      const vars: Record<string, string> = {
        PLAIN: "info",
        SPACES: "  leading and trailing  ",
        QUOTES: `"double" 'single' \`tick\``,
        DOLLAR: "$HOME ${PORT} $$",
        BACKSLASH: "a\\b\\\\c\\nd\\",
        HASH: "#not a comment ;nor this",
        NEWLINES: "line1\nline2\r\nline3\n",
        EQUALS: "a=b==c",
        EMPTY: "",
        UNICODE: "héllo ☃ 𝄞",
        CONTROL: "\x01\x1b[0m\x7f\t",
      };
      const bin = join(dir, "release", "bin", "hello");
      mkdirSync(dirname(bin), { recursive: true });
      // printf '%s\0' keeps every byte but NUL, so newlines inside values survive the dump.
      writeFileSync(bin, `#!/bin/sh\nfor a in "$@"; do printf '%s\\0' "$a"; done > ${dir}/argv\nenv -0 > ${dir}/env\n`);
      chmodSync(bin, 0o755);
      writeFileSync(join(dir, "env"), renderEnvFile(vars));
      const command = ["hello", ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
      mkdirSync(join(dir, "units"));
      writeFileSync(
        join(dir, "units", "probe@.service"),
        `[Service]\nType=oneshot\nExecStart=${renderExecStart(cfg, command, join(dir, "release"))}\nEnvironment=PORT=%i\nEnvironmentFile=${dir}/env\n`,
      );
      const script = `set -eu
mount -t tmpfs tmpfs /run   # only in this mount namespace: makes the user manager believe systemd booted
mkdir -p /run/systemd/system ${dir}/xdg
chmod 700 ${dir}/xdg
export XDG_RUNTIME_DIR=${dir}/xdg SYSTEMD_UNIT_PATH=${dir}/units:
${userManager} --user >${dir}/manager.log 2>&1 &
pid=$!
trap 'kill $pid' EXIT
for i in $(seq 100); do systemctl --user show-environment >/dev/null 2>&1 && break; sleep 0.05; done
systemctl --user start probe@8123.service
`;
      const r = Bun.spawnSync(["unshare", "-m", "--propagation", "private", "sh", "-c", script], { stderr: "pipe", stdout: "pipe" });
      expect(r.stderr.toString()).toBe("");
      expect(r.exitCode).toBe(0);
      const argv = readFileSync(join(dir, "argv"), "utf8").split("\0").slice(0, -1);
      expect(argv).toEqual(args);
      const env = Object.fromEntries(
        readFileSync(join(dir, "env"), "utf8")
          .split("\0")
          .slice(0, -1)
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
      );
      for (const [k, v] of Object.entries(vars)) expect([k, env[k]]).toEqual([k, v]);
      expect(env.PORT).toBe("8123");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** The unit lines of processPlace (WorkingDirectory, HOME, PATH) for a release dir. */
  const placeLines = (releaseDir: string) => {
    const p = processPlace(releaseDir);
    return `WorkingDirectory=${p.workingDirectory}\nEnvironment=HOME=${p.home}\nEnvironment=PATH=${p.path}\n`;
  };

  /** Runs `commands` (sh) beside a user manager that reads units from dir/units. */
  function withUserManager(dir: string, commands: string) {
    const script = `set -eu
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/system ${dir}/xdg
chmod 700 ${dir}/xdg
export XDG_RUNTIME_DIR=${dir}/xdg SYSTEMD_UNIT_PATH=${dir}/units:
${userManager} --user >${dir}/manager.log 2>&1 &
pid=$!
trap 'kill $pid' EXIT
for i in $(seq 100); do systemctl --user show-environment >/dev/null 2>&1 && break; sleep 0.05; done
${commands}
`;
    const r = Bun.spawnSync(["unshare", "-m", "--propagation", "private", "sh", "-c", script], { stderr: "pipe", stdout: "pipe" });
    return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exitCode };
  }

  test("a bash line: bash expands its variables; working directory, HOME and PATH are the app's", () => {
    const dir = mkdtempSync(join(tmpdir(), "qdeploy-bash-"));
    try {
      const release = join(dir, "release");
      const bin = join(release, "app", "bin", "hello");
      mkdirSync(dirname(bin), { recursive: true });
      writeFileSync(bin, `#!/bin/sh\nfor a in "$@"; do printf '%s\\0' "$a"; done > ${dir}/argv\nenv -0 > ${dir}/env\npwd > ${dir}/pwd\n`);
      chmodSync(bin, 0o755);
      writeFileSync(join(dir, "env"), renderEnvFile({ LOG_LEVEL: "info", DATABASE_URL: "" }));
      const line = `export WORKER='true' && WEB_SERVER_PORT=$PORT DB="\${DATABASE_URL:-none}" ./bin/hello "$LOG_LEVEL" '100% $HOME' $(echo sub) \${NOPE:-d}`;
      const execStart = renderExecStart(cfg, line, release);
      expect(execStart.startsWith("/bin/bash -c ")).toBe(true);
      mkdirSync(join(dir, "units"));
      writeFileSync(
        join(dir, "units", "probe@.service"),
        `[Service]\nType=oneshot\nExecStart=${execStart}\nEnvironment=PORT=%i\nEnvironmentFile=${dir}/env\n${placeLines(release)}`,
      );
      const r = withUserManager(dir, "systemctl --user start probe@8123.service");
      expect(r.stderr).toBe("");
      expect(r.exitCode).toBe(0);
      expect(readFileSync(join(dir, "argv"), "utf8").split("\0").slice(0, -1)).toEqual(["info", "100% $HOME", "sub", "d"]);
      const env = Object.fromEntries(
        readFileSync(join(dir, "env"), "utf8")
          .split("\0")
          .slice(0, -1)
          .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
      );
      const app = join(release, "app");
      expect({ WORKER: env.WORKER, WEB_SERVER_PORT: env.WEB_SERVER_PORT, DB: env.DB, HOME: env.HOME, PATH: env.PATH }).toEqual({
        WORKER: "true",
        WEB_SERVER_PORT: "8123",
        DB: "none",
        HOME: app,
        PATH: `${app}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      });
      expect(readFileSync(join(dir, "pwd"), "utf8")).toBe(`${app}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Stopping the unit (KillMode=control-group) sends SIGTERM to every process in it. Where
  // bash execs the app, the app is the main process. Elsewhere bash would die at once and
  // systemd, its main process gone, would send the draining app a second SIGTERM (seen here
  // without the trap: "TERM 2"); TERM_AFTER_CHILDREN keeps bash until the app is done.
  const drains: [string, "the app" | "bash"][] = [
    ["hello", "the app"],
    ["export WORKER='true' && hello", "the app"],
    ["WEB_SERVER_PORT=$PORT ./bin/hello", "the app"],
    ["hello | cat", "bash"],
    ["hello 2>&1 | tee /dev/null", "bash"],
    ["hello >/dev/null", "bash"],
    ["hello && true", "bash"],
  ];
  for (const [line, main] of drains) {
    test(`${JSON.stringify(line)}: the main process is ${main}; one SIGTERM, the drain completes before stop returns`, () => {
      const dir = mkdtempSync(join(tmpdir(), "qdeploy-drain-"));
      try {
        const release = join(dir, "release");
        // The app (release/bin/hello, and its hard link app/bin/hello): on SIGTERM it keeps
        // working for 1 s (its drain), then exits 0.
        for (const bin of [join(release, "bin", "hello"), join(release, "app", "bin", "hello")]) {
          mkdirSync(dirname(bin), { recursive: true });
          writeFileSync(
            bin,
            `#!/bin/bash
log() { echo "$*" >> ${dir}/log; }
n=0
trap 'n=$((n+1)); log "TERM $n"' TERM
log start
while [ $n -eq 0 ]; do sleep 0.05; done
for i in $(seq 20); do sleep 0.05; done
log "drained after $n TERM"
`,
          );
          chmodSync(bin, 0o755);
        }
        const execStart = renderExecStart(cfg, line, release);
        mkdirSync(join(dir, "units"));
        writeFileSync(
          join(dir, "units", "probe@.service"),
          `[Service]\nType=simple\nExecStart=${execStart}\nEnvironment=PORT=%i\n${placeLines(release)}KillMode=control-group\nKillSignal=SIGTERM\nTimeoutStopSec=10s\nSendSIGKILL=yes\n`,
        );
        const r = withUserManager(
          dir,
          `systemctl --user start probe@8123.service
for i in $(seq 100); do grep -q start ${dir}/log 2>/dev/null && break; sleep 0.05; done
main=$(systemctl --user show -p MainPID --value probe@8123.service)
tr '\\0' ' ' < /proc/$main/cmdline > ${dir}/main
systemctl --user stop probe@8123.service
echo stopped >> ${dir}/log
systemctl --user show -p Result --value probe@8123.service`,
        );
        expect(r.stderr).toBe("");
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toBe("success\n");
        expect(readFileSync(join(dir, "log"), "utf8")).toBe("start\nTERM 1\ndrained after 1 TERM\nstopped\n");
        // A script's cmdline is its interpreter's: /bin/bash /path/to/hello.
        expect(readFileSync(join(dir, "main"), "utf8")).toMatch(main === "bash" ? /^\/bin\/bash -c / : /^\/bin\/bash \S+\/bin\/hello $/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
