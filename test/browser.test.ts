// test/browser.ts drives Debian's chromium through playwright-core under Bun: a page served
// here is loaded, clicked and photographed; close leaves no chromium process and no profile
// behind; an https page from Caddy's `tls internal` (the sandbox's CA) loads only when asked
// to ignore the certificate; a missing chromium fails naming its package.
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ARTIFACTS, launchBrowser, screenshot } from "./browser.ts";
import { requireTool } from "./tools.ts";

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>browser check</title>
<style>body { font: 18px sans-serif; margin: 2em; } #out { color: #063; font-weight: bold; }</style></head>
<body>
  <h1>qdeploy browser check</h1>
  <form id="f"><label>name <input name="who" value="qdeploy"></label>
    <button id="go" type="submit">Say hello</button></form>
  <p id="out">waiting</p>
  <script>
    document.getElementById("f").addEventListener("submit", async (e) => {
      e.preventDefault();
      const who = new FormData(e.target).get("who");
      const r = await fetch("/api/hello", { method: "POST", body: JSON.stringify({ who }) });
      document.getElementById("out").textContent = (await r.json()).text;
    });
  </script>
</body></html>`;

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/") return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
    if (url.pathname === "/api/hello" && req.method === "POST") {
      const { who } = (await req.json()) as { who: string };
      return Response.json({ text: `hello, ${who}, from the server` });
    }
    return new Response("not found", { status: 404 });
  },
});
afterAll(() => server.stop(true));

/** The command lines of live processes that use `dir` as their profile (zombies have none). */
function processesOf(dir: string): string[] {
  const flag = `--user-data-dir=${dir}`;
  return readdirSync("/proc").filter((pid) => /^\d+$/.test(pid)).flatMap((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return argv.includes(flag) ? [`${pid} ${argv.join(" ")}`] : [];
    } catch {
      return []; // gone meanwhile
    }
  });
}

async function noProcessesOf(dir: string, ms = 5000): Promise<string[]> {
  const end = Date.now() + ms;
  let left = processesOf(dir);
  while (left.length > 0 && Date.now() < end) {
    await Bun.sleep(100);
    left = processesOf(dir);
  }
  return left;
}

test("loads a page, clicks, sees the server's answer, saves a screenshot; close leaves nothing behind", async () => {
  const t0 = performance.now();
  const browser = await launchBrowser();
  console.log(`chromium launch: ${Math.round(performance.now() - t0)} ms`);
  let closed = false;
  try {
    expect(processesOf(browser.userDataDir).length).toBeGreaterThan(0);
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.port}/`);
    expect(await page.textContent("#out")).toBe("waiting");
    await page.fill("input[name=who]", "lead");
    await page.click("#go");
    await page.locator("#out", { hasText: "from the server" }).waitFor();
    expect(await page.textContent("#out")).toBe("hello, lead, from the server");

    const png = await screenshot(page, "browser-check");
    expect(png).toBe(join(ARTIFACTS, "browser-check.png"));
    expect(statSync(png).size).toBeGreaterThan(1024);
    expect(Buffer.from(await Bun.file(png).arrayBuffer()).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

    await browser.close();
    closed = true;
    expect(await noProcessesOf(browser.userDataDir)).toEqual([]);
    expect(existsSync(browser.userDataDir)).toBe(false);
    await browser.close(); // twice is harmless (a finally may close again)
  } finally {
    if (!closed) await browser.close();
  }
}, 60_000);

test("an https page signed by Caddy's internal CA loads only with ignoreHTTPSErrors", async () => {
  const caddy = requireTool("caddy");
  const home = mkdtempSync(join(tmpdir(), "qdeploy-browser-caddy-"));
  // A free port: bound by us, released, then given to Caddy (admin off, so no :2019 either).
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  const caddyfile = join(home, "Caddyfile");
  writeFileSync(caddyfile, `{\n\tadmin off\n\tskip_install_trust\n\thttp_port 0\n\thttps_port ${port}\n\tauto_https disable_redirects\n}\nhttps://app.localhost:${port} {\n\tbind 127.0.0.1\n\ttls internal\n\trespond "served by caddy over tls"\n}\n`);
  const proc = Bun.spawn([caddy, "run", "--config", caddyfile, "--adapter", "caddyfile"], {
    env: { ...process.env, HOME: home, XDG_DATA_HOME: join(home, "data"), XDG_CONFIG_HOME: join(home, "config") },
    stdout: "pipe",
    stderr: "pipe",
  });
  const url = `https://app.localhost:${port}/`;
  try {
    // Caddy issues the site's certificate after it starts listening: wait until a handshake works.
    const end = Date.now() + 15_000;
    for (;;) {
      const ok = await fetch(url, { tls: { rejectUnauthorized: false } }).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > end || proc.exitCode !== null) throw new Error(`caddy did not serve ${url}: ${await new Response(proc.stderr).text()}`);
      await Bun.sleep(100);
    }

    const strict = await launchBrowser();
    try {
      const page = await strict.newPage();
      await expect(page.goto(url)).rejects.toThrow("net::ERR_CERT_AUTHORITY_INVALID");
    } finally {
      await strict.close();
    }

    const lenient = await launchBrowser({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 } });
    try {
      const page = await lenient.newPage();
      const res = await page.goto(url);
      expect(res?.status()).toBe(200);
      expect(await page.textContent("body")).toBe("served by caddy over tls");
      expect(await page.evaluate("[innerWidth, innerHeight]")).toEqual([390, 844]); // a phone's width (a string: tsconfig has no DOM types)
    } finally {
      await lenient.close();
    }
  } finally {
    proc.kill();
    await proc.exited;
    rmSync(home, { recursive: true, force: true });
  }
}, 60_000);

test("a missing chromium fails naming it and its package", async () => {
  const saved = process.env.PATH;
  process.env.PATH = "/nonexistent";
  try {
    await expect(launchBrowser()).rejects.toThrow("this test needs chromium, which is not installed (Debian package chromium)");
  } finally {
    process.env.PATH = saved;
  }
});
