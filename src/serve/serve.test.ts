import { describe, expect, test } from "bun:test";
import { fakeServe } from "../../test/fixtures/serve-deps.ts";
import { isLoopback, startServer } from "./serve.ts";

describe("startServer", () => {
  test("answers /healthz and the API over a real port, then stops", async () => {
    const f = fakeServe();
    const warnings: string[] = [];
    const server = startServer(f.deps, { host: "127.0.0.1", port: 0 }, (l) => warnings.push(l));
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    try {
      const health = await fetch(`${server.url}/healthz`);
      expect([health.status, await health.json()]).toEqual([200, { ok: true }]);
      const token = await f.token("read");
      const envs = await fetch(`${server.url}/api/v1/environments`, { headers: { authorization: `Bearer ${token}` } });
      expect(envs.status).toBe(200);
      expect(warnings).toEqual([]);
    } finally {
      await server.stop();
    }
    expect(await fetch(`${server.url}/healthz`).then(() => "answered", () => "refused")).toBe("refused");
  });

  test("a non-loopback address is warned about: no TLS in front", async () => {
    const warnings: string[] = [];
    const server = startServer(fakeServe().deps, { host: "0.0.0.0", port: 0 }, (l) => warnings.push(l));
    await server.stop();
    expect(warnings.length).toBe(1);
    expect(warnings[0]).toStartWith("listening on 0.0.0.0, not loopback, without TLS");
  });

  test("isLoopback", () => {
    expect(["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"].every(isLoopback)).toBe(true);
    expect(["0.0.0.0", "10.0.0.1", "::", "example.com"].some(isLoopback)).toBe(false);
  });
});
