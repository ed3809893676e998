import { describe, expect, test } from "bun:test";
import { fakeServe } from "../../test/fixtures/serve-deps.ts";
import { createApp } from "./app.ts";

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe("createApp: health, auth, errors", () => {
  test("/healthz answers without a token", async () => {
    const res = await createApp(fakeServe().deps).request("/healthz");
    expect([res.status, await res.json()]).toEqual([200, { ok: true }]);
  });

  test("no token, a malformed one, an unknown one: 401 in the closed error set, with WWW-Authenticate", async () => {
    const f = fakeServe();
    const app = createApp(f.deps);
    const real = await f.token("read");
    for (const [headers, message] of [
      [{}, "no token"],
      [{ authorization: "Bearer nope" }, "not a qdeploy token"],
      [{ authorization: `Bearer ${real.slice(0, -4)}AAAA` }, "unknown token"],
    ] as const) {
      const res = await app.request("/api/v1/environments", { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="qdeploy"');
      const body = (await res.json()) as { ok: boolean; error: { kind: string; message: string } };
      expect([body.ok, body.error.kind, body.error.message.startsWith(message)]).toEqual([false, "unauthorized", true]);
    }
  });

  test("a read token reads; an expired token is refused, saying when it expired", async () => {
    let now = new Date("2026-12-02T10:00:00Z");
    const f = fakeServe({ now: () => now });
    const app = createApp(f.deps);
    const token = await f.token("read", { name: "ci", expiresSec: 60 });
    const ok = await app.request("/api/v1/environments", bearer(token));
    expect([ok.status, ((await ok.json()) as { environments: { name: string }[] }).environments.map((e) => e.name)]).toEqual([200, ["prod"]]);
    now = new Date("2026-12-02T10:01:00Z");
    const late = await app.request("/api/v1/environments", bearer(token));
    expect([late.status, ((await late.json()) as { error: { message: string } }).error.message]).toEqual([401, 'token "ci" expired at 2026-12-02T10:01:00.000Z']);
  });

  test("an unknown route is a JSON 404", async () => {
    const res = await createApp(fakeServe().deps).request("/api/v2/nothing");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { kind: string } }).error.kind).toBe("not-found");
  });

  test("tokens are stored hashed (argon2id), 0600; the token itself is nowhere in the file", async () => {
    const f = fakeServe();
    const token = await f.token("deploy", { name: "alice" });
    const file = f.deps.tokens.file;
    const text = await Bun.file(file).text();
    // the secret part: everything after "qdp_ID_" (it may itself hold a "_")
    expect(text).not.toContain(token.slice(token.indexOf("_", 4) + 1));
    expect(text).toContain("$argon2id$");
    expect((await import("node:fs")).statSync(file).mode & 0o777).toBe(0o600);
  });

  test("no page can be framed by another site (clickjacking): every answer says so, pages, their errors and the API alike", async () => {
    const f = fakeServe();
    const app = createApp(f.deps);
    const cookie = { headers: { cookie: `qdeploy_token=${await f.token("deploy")}` } };
    const answers = [
      await app.request("/login"),
      await app.request("/", cookie),
      await app.request("/"), // no token
      await app.request("/env/nope", cookie),
      await app.request("/login", { method: "POST", body: new URLSearchParams({ token: "qdp_nope" }), headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost" } }),
      await app.request("/api/v2/nothing"),
      await app.request("/healthz"),
    ];
    for (const res of answers) {
      expect([res.status, res.headers.get("content-security-policy"), res.headers.get("x-frame-options")]).toEqual([res.status, "frame-ancestors 'none'", "DENY"]);
    }
    expect(answers.map((r) => r.status)).toEqual([200, 200, 303, 404, 401, 404, 200]);
  });
});
