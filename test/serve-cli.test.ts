/** `qdeploy serve` and `qdeploy serve token ...` as a user runs them (bin/qdeploy). */
import { describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const REPO = path.resolve(import.meta.dir, "..");
const QDEPLOY = path.join(REPO, "bin/qdeploy");

function run(args: string[], env: Record<string, string>) {
  const p = Bun.spawnSync([QDEPLOY, ...args], { cwd: REPO, env: { ...process.env, NO_COLOR: "1", ...env } });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

describe("qdeploy serve token", () => {
  test("add prints the token once, alone on stdout; list shows no hash; remove; bad usage exits 2", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "qdeploy-serve-cli-")), "tokens.json");
    const env = { QDEPLOY_SERVE_TOKENS: file };
    const add = run(["serve", "token", "add", "ci", "--role", "deploy", "--expires", "30d"], env);
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/^qdp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}\n$/);
    expect(add.stderr).toMatch(new RegExp(`^token "ci" \\(deploy, expires \\d{4}-.*Z\\) added to ${file}; it is not shown again\\n$`));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(run(["serve", "token", "add", "viewer", "--role", "read"], env).code).toBe(0);

    const list = run(["serve", "token", "list"], env);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split("\n");
    expect(lines.map((l) => l.split("\t").slice(0, 2))).toEqual([["ci", "deploy"], ["viewer", "read"]]);
    expect(lines[1]).toEndWith("never expires");
    expect(list.stdout).not.toContain("argon2");
    // the secret is everything after the id: base64url, so it may hold "_" itself
    expect(list.stdout).not.toContain(add.stdout.trim().split("_").slice(2).join("_"));
    const json = JSON.parse(run(["serve", "token", "list", "--json"], env).stdout);
    expect(Object.keys(json[0]).sort()).toEqual(["created", "expires", "name", "role"]);

    expect(run(["serve", "token", "remove", "ci"], env)).toEqual({ code: 0, stdout: 'removed token "ci"\n', stderr: "" });
    const again = run(["serve", "token", "remove", "ci"], env);
    expect([again.code, again.stderr]).toEqual([1, `error: no token named "ci" in ${file}\n`]);
    expect(run(["serve", "token", "list"], env).stdout.split("\t")[0]).toBe("viewer");

    for (const [args, message] of [
      [["serve", "token", "add", "x"], "error: --role must be read or deploy\n"],
      [["serve", "token", "add", "x", "--role", "admin"], 'error: --role must be read or deploy, not "admin"\n'],
      [["serve", "token", "add", "x", "--role", "read", "--expires", "soon"], 'error: --expires: bad duration "soon"; write e.g. "30s", "15m", "1h30m" or "500ms" (a plain number is seconds)\n'],
      [["serve", "token", "frob"], 'error: unknown command "serve token frob" (see qdeploy help serve token)\n'],
    ] as const) {
      const r = run([...args], env);
      expect([args.join(" "), r.code, r.stderr]).toEqual([args.join(" "), 2, message]);
    }
    // ten processes, two argon2id hashes: seconds on a loaded 2-core machine
  }, 30_000);
});

/** `qdeploy serve --listen LISTEN`, read until it has said where it listens and what it serves. */
async function startServe(listen: string, tokens: string) {
  const p = Bun.spawn([QDEPLOY, "serve", "--listen", listen], { cwd: REPO, env: { ...process.env, NO_COLOR: "1", QDEPLOY_SERVE_TOKENS: tokens }, stdout: "pipe", stderr: "pipe" });
  const reader = p.stdout.getReader();
  let out = "";
  while (!out.includes("environments:")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`qdeploy serve ended: ${out} ${await new Response(p.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { p, out };
}

describe("qdeploy serve", () => {
  test("listens where --listen says, lists the environments, answers /healthz, stops cleanly on SIGTERM", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), "qdeploy-serve-cli-")), "tokens.json");
    const port = 20000 + Math.floor(Math.random() * 20000);
    const { p, out } = await startServe(`127.0.0.1:${port}`, file);
    expect(out).toBe(`listening on http://127.0.0.1:${port}\nenvironments: sandbox, sandbox-fleet; tokens: ${file}\n`);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/api/v1/environments`)).status).toBe(401);
    p.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    expect(await new Response(p.stderr).text()).toBe("warning: no API token yet: qdeploy serve token add NAME --role read|deploy\n");
  });

  test("--listen unix:/PATH (the installed server's): a socket anyone may connect to, a stale one replaced, removed at the end", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "qdeploy-serve-cli-"));
    const socket = path.join(dir, "http.sock");
    // A socket left by a server that was killed (SIGKILL: nothing removed it): the next one takes its place.
    const old = Bun.spawn([process.execPath, "-e", `Bun.serve({ unix: ${JSON.stringify(socket)}, fetch: () => new Response("old") }); setInterval(() => {}, 1000);`]);
    while (!existsSync(socket)) await Bun.sleep(20);
    old.kill("SIGKILL");
    await old.exited;
    expect(lstatSync(socket).isSocket()).toBe(true);
    const { p, out } = await startServe(`unix:${socket}`, path.join(dir, "tokens.json"));
    expect(out).toStartWith(`listening on unix:${socket}\n`);
    expect(statSync(socket).mode & 0o777).toBe(0o666);
    const health = await fetch("http://localhost/healthz", { unix: socket } as RequestInit);
    expect([health.status, await health.text()]).toEqual([200, '{"ok":true}']);
    p.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    expect(existsSync(socket)).toBe(false);
  });
});
