/**
 * Log streams against a real OpenSSH server (no VM, no mocks of SSH): the server's real deps
 * (pooled ssh2 connections, src/serve/deps.ts) reaching sshd on 127.0.0.1, where a stand-in
 * `journalctl` follows forever. With as many `logs?follow=1` open as the server allows, status
 * and a one-shot logs still answer; one more follow is a 429 saying why; a client that leaves
 * gives its stream back.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createApp } from "../src/serve/app.ts";
import { realDeps } from "../src/serve/deps.ts";
import type { ServeDeps } from "../src/serve/deps.ts";
import { type LocalSshd, startSshd } from "./local-sshd.ts";

setDefaultTimeout(60_000);

const REPO = path.resolve(import.meta.dir, "..");
let dir: string;
let sshd: LocalSshd;
let deps: ServeDeps;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "qdeploy-log-streams-"));
  // journalctl on the "host": one line; with -f then a tick a second, so it ends (SIGPIPE)
  // within a second of its channel closing.
  const bin = path.join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(path.join(bin, "journalctl"), ['#!/bin/sh', 'echo "journal line"', 'case " $* " in *" -f "*) while sleep 1; do echo tick || exit 0; done ;; esac', ""].join("\n"));
  chmodSync(path.join(bin, "journalctl"), 0o755);
  sshd = await startSshd({ config: [`SetEnv PATH=${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`] });
  const app_ = path.join(dir, "app");
  cpSync(path.join(REPO, "examples/hello"), app_, { recursive: true });
  const file = path.join(app_, "deploy.toml");
  writeFileSync(
    file,
    [
      'app = "hello"',
      "[build]",
      'main = "./cmd/hello"',
      "[processes]",
      'web = "hello serve"',
      "[web]",
      'domains = ["hello.localhost"]',
      'health = "/healthz"',
      "[ssh]",
      `identity = ${JSON.stringify(sshd.identity)}`,
      `known_hosts = ${JSON.stringify(sshd.knownHosts)}`,
      "[environments.prod]",
      `hosts = ["root@127.0.0.1:${sshd.port}"]`,
      "",
    ].join("\n"),
  );
  deps = await realDeps({ configFile: file, tokenFile: path.join(dir, "tokens.json"), log: () => {} });
  app = createApp(deps);
});

afterAll(async () => {
  await deps?.close?.();
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A `logs?follow=1` as `token`: "streaming" once its first journal line came, its status if refused, else "silent". */
async function follow(token: string) {
  const res = await app.request("/api/v1/environments/prod/logs?follow=1", { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) return { state: String(res.status), res, reader: null };
  const reader = res.body!.getReader();
  const first = await Promise.race([reader.read().then((r) => new TextDecoder().decode(r.value)), Bun.sleep(3000).then(() => "")]);
  return { state: first.includes('"line":"journal line"') ? "streaming" : "silent", res, reader };
}

/** A GET's status, or "no answer" after `ms`. */
async function answered(url: string, token: string, ms = 8000): Promise<number | string> {
  const res = Promise.resolve(app.request(url, { headers: { authorization: `Bearer ${token}` } })).then(async (r) => (await r.text(), r.status));
  return Promise.race([res, Bun.sleep(ms).then(() => "no answer")]);
}

test("with every follow stream the server allows open, status and a one-shot logs still answer; one more is a 429", async () => {
  const tokens: Record<string, string> = {};
  for (const n of ["a", "b", "c"]) tokens[n] = (await deps.tokens.add(n, "read")).token; // one at a time: each rewrites the file
  const streams: Awaited<ReturnType<typeof follow>>[] = [];
  const states: string[] = [];
  for (const who of ["a", "a", "a", "a", "a", "b", "b", "b", "b", "c"]) {
    const s = await follow(tokens[who]!);
    streams.push(s);
    states.push(`${who} ${s.state}`);
  }
  try {
    // The follows hold their own connection's channels: the one status and push use is free.
    const status = await answered("/api/v1/environments/prod/status", tokens.c!);
    const oneShot = await answered("/api/v1/environments/prod/logs?lines=5", tokens.c!);
    // 4 per token (a's fifth), 8 per environment (c's first, though c has none open).
    expect({ states, status, oneShot }).toEqual({
      states: ["a streaming", "a streaming", "a streaming", "a streaming", "a 429", "b streaming", "b streaming", "b streaming", "b streaming", "c 429"],
      status: 200,
      oneShot: 200,
    });
    const [perToken, perEnv] = [streams[4]!.res, streams[9]!.res];
    expect([perToken.headers.get("retry-after"), await perToken.json()]).toEqual(["30", { ok: false, error: { kind: "too-many", message: 'token "a" already follows 4 log streams, the most one token may', hint: "close one (a tab following logs) first" } }]);
    expect([perEnv.headers.get("retry-after"), await perEnv.json()]).toEqual(["30", { ok: false, error: { kind: "too-many", message: "prod already has 8 log streams following, the most one environment may", hint: "close one (a tab following logs), or try again later" } }]);

    // A client that goes away gives its stream back: c may follow now.
    await streams[0]!.reader!.cancel();
    await Bun.sleep(200);
    const again = await follow(tokens.c!);
    streams.push(again);
    expect(again.state).toBe("streaming");
  } finally {
    for (const s of streams) await s.reader?.cancel().catch(() => {});
  }
});
