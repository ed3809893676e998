/** A quiet SSE stream over a real port outlives Bun's default idle timeout (10 s): startServer sets its own. */
import { expect, test } from "bun:test";
import { fakeServe } from "./fixtures/serve-deps.ts";
import { startServer } from "../src/serve/serve.ts";

test("logs?follow=1 with nothing new to say stays open past 10 s", async () => {
  const f = fakeServe({ environments: { prod: [{ label: "root@h1:22", live: null, releases: [], journal: ["only line"] }] } });
  const server = startServer(f.deps, { host: "127.0.0.1", port: 0 });
  const client = new AbortController();
  try {
    const res = await fetch(`${server.url}/api/v1/environments/prod/logs?follow=1`, { headers: { authorization: `Bearer ${await f.token("read")}` }, signal: client.signal });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("only line");
    const next = reader.read().then((r) => (r.done ? "closed" : "data"), () => "cut");
    const after = await Promise.race([next, Bun.sleep(12_000).then(() => "open")]);
    expect(after).toBe("open");
  } finally {
    client.abort();
    await server.stop();
  }
}, 20_000);
