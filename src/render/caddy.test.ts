import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { helloConfig } from "../../test/fixtures/config.ts";
import { bugMessage } from "../../test/bug.ts";
import { requireTool } from "../../test/tools.ts";
import { layout } from "../server-layout.ts";
import { MAINTENANCE_MATCHER, MAINTENANCE_RETRY_AFTER_SEC, renderCaddyDropIn, renderCaddyMain, renderCaddySite } from "./caddy.ts";

const cfg: ResolvedConfig = helloConfig;

// The pair a host gave the app (facts); any pair renders the same way.
const PORTS: [number, number] = [8101, 8102];
const [a, b] = PORTS;

function withWeb(web: Partial<NonNullable<ResolvedConfig["web"]>>): ResolvedConfig {
  return { ...cfg, web: { ...cfg.web!, ...web } };
}

describe("renderCaddySite", () => {
  test("tls internal", () => {
    expect(renderCaddySite(cfg, PORTS)).toBe(`# hello: written by qdeploy from the release's deploy.toml; do not edit.
# Both web slots are upstreams; Caddy sends traffic to the live slot, and to the other only
# while the live one refuses connections, so a switch moves traffic without reloading Caddy
# (a reload drops TLS handshakes while certificates reload, and closes WebSockets).
hello.localhost {
	tls internal
	# Maintenance mode (\`qdeploy maintenance on|off\`): while the page below exists, every
	# request gets it with a 503. Toggling needs no reload; a switch rewrites only this file.
	@maintenance file {
		root /srv/qdeploy/hello/maintenance
		try_files /page.html
	}
	handle @maintenance {
		header Retry-After 120
		header Cache-Control no-store
		root * /srv/qdeploy/hello/maintenance
		rewrite * /page.html
		file_server {
			status 503
		}
	}
	# Which slot is live: slot B (${b}) while the file below exists, else slot A. The switch
	# creates or removes it (the matcher looks on every request: no reload), so a rollback to
	# the warm standby takes the next request.
	@slot_b file {
		root /srv/qdeploy/hello/route
		try_files /b
	}
	handle @slot_b {
		reverse_proxy 127.0.0.1:${b} 127.0.0.1:${a} {
			lb_policy first
			# While no slot is up, hold a request briefly instead of failing it.
			lb_try_duration 5s
			lb_try_interval 100ms
			# A slot that refuses a connection is skipped at once, and for a second after.
			fail_duration 1s
			# No active health check: the switch routes to a slot only once it answered
			# the health path, so Caddy takes it on the next request, with no interval to wait.
		}
	}
	handle {
		# The same options as slot B's.
		reverse_proxy 127.0.0.1:${a} 127.0.0.1:${b} {
			lb_policy first
			lb_try_duration 5s
			lb_try_interval 100ms
			fail_duration 1s
		}
	}
}
`);
  });

  test("tls auto: several domains on one address line, no tls directive", () => {
    // The rest is the tls internal site's, whole (the test above pins every line of it).
    const internal = renderCaddySite(cfg, PORTS);
    expect(internal).toContain("\nhello.localhost {\n\ttls internal\n");
    expect(renderCaddySite(withWeb({ tls: "auto", domains: ["hello.example.com", "www.hello.example.com"] }), PORTS)).toBe(
      internal.replace("\nhello.localhost {\n\ttls internal\n", "\nhello.example.com, www.hello.example.com {\n"),
    );
  });

  test("tls off: http:// addresses", () => {
    expect(renderCaddySite(withWeb({ tls: "off", domains: ["a.test", "b.test"] }), PORTS)).toContain(
      "\nhttp://a.test, http://b.test {\n\t# Maintenance mode",
    );
  });

  test("both web slots of the app are the upstreams; the health path is the switch's, not Caddy's", () => {
    const site = renderCaddySite(withWeb({ health: "/up?full=1" }), PORTS);
    expect(site).toContain(`reverse_proxy 127.0.0.1:${a} 127.0.0.1:${b} {`);
    expect(site).not.toContain("/up?full=1");
    expect(site).not.toMatch(/^\s*health_/m);
  });

  test("the maintenance switch: a file matcher on the app's page outside the releases, the marker maintenance on looks for", () => {
    const site = renderCaddySite(cfg, PORTS);
    expect(site).toContain(`\t${MAINTENANCE_MATCHER}\n\t\troot ${layout("hello").maintenance}\n\t\ttry_files /page.html\n`);
    expect(layout("hello").maintenancePage).toBe(`${layout("hello").maintenance}/page.html`);
    expect(layout("hello").maintenance.startsWith(`${layout("hello").root}/`)).toBe(true);
    expect(layout("hello").maintenance.startsWith(layout("hello").releases)).toBe(false);
  });

  test("empty without [web]", () => {
    expect(renderCaddySite({ ...cfg, web: null }, PORTS)).toBe("");
  });

  test("asserts (check refused them first) domains, each a host name: no Caddyfile syntax gets in", () => {
    expect(bugMessage(() => renderCaddySite(withWeb({ domains: [] }), PORTS))).toBe("web.domains: the web process needs at least one domain");
    for (const bad of ["a b", "a.test {", "http://a.test", "a.test:8080", "a.test\nimport /etc/passwd", "-a.test", ""]) {
      expect(bugMessage(() => renderCaddySite(withWeb({ domains: [bad] }), PORTS))).toBe(`web.domains: ${JSON.stringify(bad)} is not a host name`);
    }
    expect(renderCaddySite(withWeb({ domains: ["*.hello.example.com"] }), PORTS)).toContain("\n*.hello.example.com {\n");
  });
});

describe("renderCaddyMain", () => {
  test("global grace_period, quiet health checks, and the import of every app's site file", () => {
    expect(renderCaddyMain()).toBe(`# /etc/caddy/Caddyfile: managed by qdeploy (\`qdeploy setup\` rewrites it); do not edit.
# Each app's sites are in their own file under /etc/caddy/qdeploy/, written by that app's
# switch, which puts the old file back if Caddy refuses the new one, so one app's deploy
# never breaks another's.
{
	# The admin API on a unix socket in /run/caddy (0700, caddy's; the socket 0700 too, by
	# the umask qdeploy's drop-in gives caddy.service): only root and caddy reach it. The
	# default, TCP localhost:2019 without authentication, lets any local process, the apps
	# included, rewrite every site or read the TLS keys.
	admin unix//run/caddy/admin.sock
	# A reload lets in-flight requests finish on the old config for up to this long.
	grace_period 60s
	# Health checks of a stopped (idle) web slot fail by design: not worth a log line each.
	log default {
		exclude http.handlers.reverse_proxy.health_checker.active
	}
}

import /etc/caddy/qdeploy/*.caddy
`);
  });

  test("another sites folder (tests), a plain absolute path only", () => {
    expect(renderCaddyMain("/tmp/x/sites/")).toContain("\nimport /tmp/x/sites/*.caddy\n");
    expect(bugMessage(() => renderCaddyMain("relative"))).toContain("plain absolute path");
    expect(bugMessage(() => renderCaddyMain("/tmp/a b"))).toContain("plain absolute path");
    expect(bugMessage(() => renderCaddyMain("/tmp/x", "/run/a b.sock"))).toContain("plain absolute path");
  });
});

// ---- The real Caddy judges the real output. ----

// A missing caddy fails these tests naming it (npm test installs it); never a skip.
describe("caddy validate", () => {
  let dir = "";
  beforeAll(() => {
    requireTool("caddy");
    dir = mkdtempSync(join(tmpdir(), "qdeploy-caddy-"));
  });
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  /** The main Caddyfile importing the given site files, as the switch would write them. */
  function validate(sites: Record<string, string>): { ok: boolean; output: string } {
    const sitesDir = join(dir, "sites");
    rmSync(sitesDir, { recursive: true, force: true });
    mkdirSync(sitesDir);
    for (const [app, text] of Object.entries(sites)) {
      writeFileSync(join(sitesDir, `${app}.caddy`), text);
    }
    writeFileSync(join(dir, "Caddyfile"), renderCaddyMain(sitesDir));
    // cwd and HOME in the temp dir: validate provisions the TLS apps, which may touch storage.
    const r = Bun.spawnSync(["caddy", "validate", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], {
      cwd: dir,
      env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") },
      stdout: "pipe",
      stderr: "pipe",
    });
    return { ok: r.exitCode === 0, output: r.stdout.toString() + r.stderr.toString() };
  }

  for (const tls of ["internal", "auto", "off"] as const) {
    test(`tls ${tls}: valid, and formatted as caddy fmt would`, () => {
      const site = renderCaddySite(withWeb({ tls, domains: ["hello.localhost", "www.hello.localhost"] }), PORTS);
      const r = validate({ hello: site });
      expect(r.output).toContain("Valid configuration");
      expect(r.output).not.toContain("not formatted");
      expect(r.ok).toBe(true);
      const fmt = Bun.spawnSync(["caddy", "fmt", "-"], { stdin: new TextEncoder().encode(site), stdout: "pipe" });
      expect(fmt.stdout.toString()).toBe(site);
    });
  }

  test("two apps side by side, and no apps at all", () => {
    const other = renderCaddySite({ ...withWeb({ domains: ["other.localhost"] }), app: "other" }, PORTS);
    expect(validate({ hello: renderCaddySite(cfg, PORTS), other }).ok).toBe(true);
    expect(validate({}).ok).toBe(true);
  });

  test("the admin API listens only on the unix socket, mode 0700 under the drop-in's umask, and caddy reload reaches it", async () => {
    const run = join(dir, "run");
    mkdirSync(run, { recursive: true, mode: 0o700 });
    const sock = join(run, "admin.sock");
    writeFileSync(join(dir, "Caddyfile"), renderCaddyMain(join(dir, "sites"), sock));
    mkdirSync(join(dir, "sites"), { recursive: true });
    const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") };
    const umask = renderCaddyDropIn().match(/^UMask=(\d+)$/m)![1]!;
    const caddy = Bun.spawn(["sh", "-c", `umask ${umask}; exec caddy run --config Caddyfile --adapter caddyfile`], { cwd: dir, env, stdout: "pipe", stderr: "pipe" });
    try {
      for (let i = 0; i < 100 && !existsSync(sock); i++) await Bun.sleep(50);
      expect((statSync(sock).mode & 0o777).toString(8)).toBe("700");
      const reload = Bun.spawnSync(["caddy", "reload", "--config", "Caddyfile", "--adapter", "caddyfile", "--address", `unix/${sock}`], { cwd: dir, env, stderr: "pipe" });
      expect(reload.stderr.toString()).not.toContain("Error");
      expect(reload.exitCode).toBe(0);
    } finally {
      caddy.kill();
      await caddy.exited;
    }
    const log = await new Response(caddy.stderr).text();
    expect(log).toContain(`"msg":"admin endpoint started","address":"unix/${sock}"`);
    expect(log).not.toContain("localhost:2019");
  });

  test("the check can fail: a broken site file is refused with its file and line", () => {
    const broken = renderCaddySite(cfg, PORTS).replace("lb_try_interval 100ms", "stream_close_delay 5m");
    const r = validate({ hello: broken });
    expect(r.ok).toBe(false);
    expect(r.output).toContain("hello.caddy:");
  });
});

// ---- The real Caddy serves the rendered site: the maintenance page toggled by a file, no reload. ----

describe("caddy serves the maintenance switch", () => {
  let dir = "";
  let caddy: ReturnType<typeof Bun.spawn> | null = null;
  let upstream: ReturnType<typeof Bun.serve> | null = null;
  let port = 0;
  const page = "<!doctype html><title>Back soon</title><h1>Down for maintenance</h1>\n";

  beforeAll(async () => {
    requireTool("caddy");
    dir = mkdtempSync(join(tmpdir(), "qdeploy-caddy-maint-"));
    upstream = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => new Response(new URL(req.url).pathname === "/healthz" ? "ok" : `app ${req.method}`) });
    // A free port for Caddy's HTTP listener: one the OS just gave out and took back.
    const probe = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    port = probe.port!;
    probe.stop(true);
    const maint = join(dir, "maintenance");
    mkdirSync(maint);
    mkdirSync(join(dir, "sites"));
    const site = renderCaddySite(withWeb({ tls: "off", domains: ["m.localhost"] }), [upstream.port!, upstream.port! === 65535 ? 65534 : upstream.port! + 1]);
    // The site as rendered, on this test's port (a domain has none: check refuses one) and
    // pointed at this test's folder instead of /srv/qdeploy/hello/maintenance.
    expect(site).toContain("\nhttp://m.localhost {\n");
    const here = site.replace("\nhttp://m.localhost {\n", `\nhttp://m.localhost:${port} {\n`).replaceAll(layout("hello").maintenance, maint);
    writeFileSync(join(dir, "sites", "hello.caddy"), here);
    writeFileSync(join(dir, "Caddyfile"), renderCaddyMain(join(dir, "sites"), join(dir, "admin.sock")));
    const env = { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") };
    caddy = Bun.spawn(["caddy", "run", "--config", "Caddyfile", "--adapter", "caddyfile"], { cwd: dir, env, stdout: "ignore", stderr: "pipe" });
    for (let i = 0; i < 100; i++) {
      if ((await request().catch(() => null))?.status === 200) return;
      await Bun.sleep(50);
    }
    throw new Error("caddy did not start serving the site");
  });
  afterAll(async () => {
    caddy?.kill();
    await caddy?.exited;
    upstream?.stop(true);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function request(method = "GET", path = "/some/page?x=1") {
    return fetch(`http://127.0.0.1:${port}${path}`, { method, headers: { host: `m.localhost:${port}` }, ...(method === "POST" && { body: "a=b" }) });
  }

  test("off: the app answers; on: every method and path gets the page with 503, Retry-After and no-store; off again: the app", async () => {
    const before = await request();
    expect([before.status, await before.text()]).toEqual([200, "app GET"]);

    writeFileSync(join(dir, "maintenance", "page.html"), page);
    for (const [method, path] of [["GET", "/"], ["GET", "/healthz"], ["POST", "/form"], ["DELETE", "/x"]] as const) {
      const r = await request(method, path);
      expect(r.status).toBe(503);
      expect(r.headers.get("retry-after")).toBe(String(MAINTENANCE_RETRY_AFTER_SEC));
      expect(r.headers.get("cache-control")).toBe("no-store");
      expect(r.headers.get("content-type")).toContain("text/html");
      expect(await r.text()).toBe(page);
    }
    // A conditional request must not turn the 503 into a 304.
    const etag = (await request()).headers.get("etag") ?? "";
    const conditional = await fetch(`http://127.0.0.1:${port}/`, { headers: { host: `m.localhost:${port}`, "if-none-match": etag } });
    expect(conditional.status).toBe(503);

    rmSync(join(dir, "maintenance", "page.html"));
    const after = await request("POST");
    expect([after.status, await after.text()]).toEqual([200, "app POST"]);
  });
});
