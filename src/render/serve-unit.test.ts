import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bugMessage } from "../../test/bug.ts";
import { requireTool } from "../../test/tools.ts";
import { renderCaddyMain } from "./caddy.ts";
import { renderBuildService, renderBuildSocket, renderServeSite, renderServeUnit, SERVE_HOST } from "./serve-unit.ts";

const UNIT = { app: "hello", configFile: "/var/lib/qdeploy-serve/repo/deploy.toml" };

describe("renderServeUnit", () => {
  const unit = renderServeUnit(UNIT);

  test("runs the uploaded executable as qdeploy-serve, in its checkout, on a socket in a folder of its own", () => {
    expect(unit).toContain("\nUser=qdeploy-serve\nGroup=qdeploy-serve\nWorkingDirectory=/var/lib/qdeploy-serve/repo\n");
    expect(unit).toContain(
      "\nExecStart=/usr/local/lib/qdeploy-serve/qdeploy serve --config /var/lib/qdeploy-serve/repo/deploy.toml --listen unix:/run/qdeploy-serve/http.sock\n",
    );
    expect(unit).toContain("\nRuntimeDirectory=qdeploy-serve\nRuntimeDirectoryMode=0755\n");
    expect(unit).toContain("\nEnvironment=QDEPLOY_SERVE_TOKENS=/var/lib/qdeploy-serve/tokens.json\n");
    expect(unit).toContain("\nRestart=on-failure\n");
    expect(unit).toContain("\nTimeoutStopSec=15min\n");
    // Go's own place (/usr/local/go) is not on systemd's default PATH; builds from the server need it.
    expect(unit).toContain("\nEnvironment=PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
    expect(unit).toContain("\n[Install]\nWantedBy=multi-user.target\n");
  });

  test("is hardened, writable only in its state dir, and never denies W+X memory (Bun's JIT)", () => {
    for (const line of [
      "NoNewPrivileges=yes",
      "CapabilityBoundingSet=",
      "ProtectSystem=strict",
      "ReadWritePaths=/var/lib/qdeploy-serve",
      "ProtectHome=yes",
      "PrivateTmp=yes",
      "PrivateDevices=yes",
      "ProtectKernelTunables=yes",
      "ProtectKernelModules=yes",
      "ProtectKernelLogs=yes",
      "ProtectControlGroups=yes",
      "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
      "SystemCallFilter=@system-service",
    ]) {
      expect(unit.split("\n")).toContain(line);
    }
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=/m);
    expect(unit).toContain("# No MemoryDenyWriteExecute=: Bun's JavaScript JIT");
  });

  test("refuses a config path that would break the unit", () => {
    expect(() => renderServeUnit({ ...UNIT, configFile: "/var/lib/x y/deploy.toml" })).toThrow("plain absolute path");
  });
});

describe("renderServeSite", () => {
  test("tls internal: the domain proxied to the server, SSE flushed at once", () => {
    expect(renderServeSite({ domain: "deploy.localhost", tls: "internal" })).toBe(`# qdeploy-serve: written by \`qdeploy serve --install\`; do not edit (run it again instead).
deploy.localhost {
	tls internal
	reverse_proxy unix//run/qdeploy-serve/http.sock {
		# Server-Sent Events (a deploy's progress, logs -f): each event as soon as it is written.
		flush_interval -1
	}
}
`);
  });

  test("tls auto: no tls line (Caddy's ACME)", () => {
    expect(renderServeSite({ domain: "deploy.example.com", tls: "auto" })).not.toContain("tls");
  });

  test("a domain that is not a host name is asserted against (check refused it first; no Caddyfile syntax gets in)", () => {
    for (const d of ["deploy.example.com {", "a b", "*.example.com", "deploy.localhost:8443", ""]) {
      expect(bugMessage(() => renderServeSite({ domain: d, tls: "auto" }))).toBe(`serve.domain: ${JSON.stringify(d)} is not a host name`);
    }
  });
});

// ---- The real tools judge the real output (FACTS.md: any output of verify is a failure). ----

describe("systemd-analyze verify", () => {
  let root = "";
  beforeAll(() => {
    requireTool("systemd-analyze");
    root = mkdtempSync(join(tmpdir(), "qdeploy-serve-verify-"));
    cpSync("/usr/lib/systemd/system", join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
  });
  afterAll(() => root && rmSync(root, { recursive: true, force: true }));

  function verify(unit: string, name: string = SERVE_HOST.unit): string {
    const unitDir = join(root, "etc/systemd/system");
    mkdirSync(unitDir, { recursive: true });
    writeFileSync(join(unitDir, name), unit);
    const exe = join(root, SERVE_HOST.executable);
    mkdirSync(dirname(exe), { recursive: true });
    writeFileSync(exe, "#!/bin/sh\n");
    chmodSync(exe, 0o755);
    const r = Bun.spawnSync(["systemd-analyze", "verify", `--root=${root}`, name], { stdout: "pipe", stderr: "pipe" });
    return `${r.stdout}${r.stderr}${r.exitCode === 0 ? "" : `exit ${r.exitCode}`}`;
  }

  test("the unit verifies with no output; so do the build sandbox's socket and service", () => {
    expect(verify(renderServeUnit(UNIT))).toBe("");
    expect(verify(renderBuildService(), "qdeploy-build@.service")).toBe("");
    expect(verify(renderBuildSocket(), "qdeploy-build.socket")).toBe("");
  });

  test("the check can fail: an unknown key is reported", () => {
    expect(verify(`${renderServeUnit(UNIT)}[Service]\nProtectEverything=yes\n`)).toContain("Unknown key 'ProtectEverything'");
  });
});

describe("caddy validate", () => {
  let dir = "";
  beforeAll(() => {
    requireTool("caddy");
    dir = mkdtempSync(join(tmpdir(), "qdeploy-serve-caddy-"));
  });
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  /** The main Caddyfile importing the server's site, as the host has them. */
  function validate(site: string): { ok: boolean; output: string } {
    const sites = join(dir, "sites");
    rmSync(sites, { recursive: true, force: true });
    mkdirSync(sites);
    writeFileSync(join(sites, "qdeploy-serve.caddy"), site);
    writeFileSync(join(dir, "Caddyfile"), renderCaddyMain(sites));
    const r = Bun.spawnSync(["caddy", "validate", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], {
      cwd: dir,
      env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") },
      stdout: "pipe",
      stderr: "pipe",
    });
    return { ok: r.exitCode === 0, output: `${r.stdout}${r.stderr}` };
  }

  for (const tls of ["internal", "auto"] as const) {
    test(`tls ${tls}: valid, and formatted as caddy fmt would`, () => {
      const site = renderServeSite({ domain: "deploy.localhost", tls });
      const r = validate(site);
      expect(r.output).toContain("Valid configuration");
      expect(r.output).not.toContain("not formatted");
      expect(r.ok).toBe(true);
      const fmt = Bun.spawnSync(["caddy", "fmt", "-"], { stdin: new TextEncoder().encode(site), stdout: "pipe" });
      expect(fmt.stdout.toString()).toBe(site);
    });
  }

  test("the check can fail: a directive Caddy 2.6 lacks is refused with its file", () => {
    const r = validate(renderServeSite({ domain: "deploy.localhost", tls: "internal" }).replace("flush_interval -1", "stream_close_delay 5m"));
    expect(r.ok).toBe(false);
    expect(r.output).toContain("qdeploy-serve.caddy:");
  });
});
