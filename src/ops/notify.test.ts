import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import type { NotifyConfig } from "../config/types.ts";
import type { OpEvent } from "../events.ts";
import { type Notice, notifier, notifyMessage, SIGNATURE_HEADER, summary } from "./notify.ts";

/** A real HTTP receiver on loopback: what arrived, and the statuses to answer with (then 204). */
let server: ReturnType<typeof Bun.serve>;
const received: { path: string; headers: Record<string, string>; body: string }[] = [];
const answers: number[] = [];
beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      received.push({ path: new URL(req.url).pathname, headers: Object.fromEntries(req.headers), body: await req.text() });
      return new Response(null, { status: answers.shift() ?? 204 });
    },
  });
});
afterAll(() => server.stop(true));
const url = (p: string) => `http://127.0.0.1:${server.port}${p}`;

const cfg = (notify: NotifyConfig[]) => ({ app: "hello", env: "prod", notify });
const noSleep = async () => {};

function collect() {
  const events: OpEvent[] = [];
  return { events, sink: (e: OpEvent) => events.push(e), errors: () => events.flatMap((e) => (e.type === "error" ? [e.line] : [])) };
}

describe("notifier against a local receiver", () => {
  test("a webhook gets the notice as JSON, signed with the named secret; a slack target gets text", async () => {
    received.length = 0;
    const { sink, errors } = collect();
    const n = notifier(
      cfg([
        { kind: "webhook", url: url("/hook"), secret: "NOTIFY_KEY" },
        { kind: "slack", url_secret: "SLACK_URL" },
      ]),
      "me@laptop",
      { NOTIFY_KEY: "k3y", SLACK_URL: url("/slack") },
      sink,
      { sleep: noSleep },
    );
    n.send({ event: "push.succeeded", release: "20261205120000", commit: "abc", seconds: 4.2, hosts: [{ label: "deploy@a", outcome: "live", live: "20261205120000" }], urls: ["https://hello.example.com/"] });
    await n.settle();
    expect(errors()).toEqual([]);
    const hook = received.find((r) => r.path === "/hook")!;
    const body = JSON.parse(hook.body);
    expect(body).toMatchObject({ event: "push.succeeded", app: "hello", env: "prod", who: "me@laptop", release: "20261205120000", commit: "abc" });
    expect(hook.headers[SIGNATURE_HEADER.toLowerCase()]).toBe(`sha256=${createHmac("sha256", "k3y").update(hook.body).digest("hex")}`);
    const slack = JSON.parse(received.find((r) => r.path === "/slack")!.body);
    expect(slack.text).toBe(
      ":white_check_mark: hello (prod): push of 20261205120000 live on 1 host in 4.2s (by me@laptop)\n• deploy@a: live, live 20261205120000\n• commit abc\n• https://hello.example.com/",
    );
  });

  test("a failing receiver is tried again with backoff; one that keeps failing is reported, never thrown", async () => {
    received.length = 0;
    answers.push(500, 503);
    const waits: number[] = [];
    const { sink, errors } = collect();
    const n = notifier(cfg([{ kind: "webhook", url: url("/flaky") }]), "me", {}, sink, { sleep: async (ms) => void waits.push(ms) });
    n.send({ event: "push.failed", error: "health check failed" });
    await n.settle();
    expect(received.map((r) => r.path)).toEqual(["/flaky", "/flaky", "/flaky"]);
    expect(waits).toEqual([1000, 3000]);
    expect(errors()).toEqual([]);
    received.length = 0;
    answers.push(500, 500, 500);
    n.send({ event: "push.failed", error: "x" });
    await n.settle();
    expect(received).toHaveLength(3);
    expect(errors()).toEqual(["notify[0] (webhook): push.failed not delivered (HTTP 500); the push itself is not affected"]);
    // A 4xx is the request's fault: not sent again.
    received.length = 0;
    answers.push(410);
    n.send({ event: "push.failed", error: "x" });
    await n.settle();
    expect(received).toHaveLength(1);
  });

  test("events filter what a target hears; a target whose secret is missing is skipped, said once", async () => {
    received.length = 0;
    const { sink, errors } = collect();
    const n = notifier(cfg([{ kind: "webhook", url: url("/failures"), events: ["push.failed"] }, { kind: "slack", url_secret: "NOPE" }]), "me", {}, sink, { sleep: noSleep });
    n.send({ event: "push.started", targets: ["deploy@a"] });
    n.send({ event: "push.failed", error: "boom" });
    await n.settle();
    expect(received.map((r) => JSON.parse(r.body).event)).toEqual(["push.failed"]);
    expect(errors()).toEqual(["notify[1] (slack): NOPE is not in the secret store: nothing is sent to it"]);
  });

  test("email goes to sendmail -t as a plain mail", async () => {
    const mails: string[] = [];
    const { sink } = collect();
    const n = notifier(cfg([{ kind: "email", to: ["ops@example.com", "cto@example.com"] }]), "me", {}, sink, { sleep: noSleep, sendmail: async (m) => (mails.push(m), 0) });
    n.send({ event: "rollback.failed", error: "rollback of 2 stopped in wave 1/1: refused\n  deploy@a: failed; still on 1" });
    await n.settle();
    expect(mails).toEqual([
      "To: ops@example.com, cto@example.com\nSubject: [qdeploy] hello (prod): rollback failed: rollback of 2 stopped in wave 1/1: refused\nContent-Type: text/plain; charset=utf-8\n\nhello (prod): rollback failed: rollback of 2 stopped in wave 1/1: refused\n\n  deploy@a: failed; still on 1\n",
    ]);
  });
});

describe("summary", () => {
  const base: Notice = { event: "push.started", app: "hello", env: "prod", who: "me", at: "" };
  test("one line per kind of event", () => {
    expect(summary(base)).toBe("hello (prod): push started by me");
    expect(summary({ ...base, event: "drift" })).toBe("hello (prod): the hosts run different releases");
    expect(notifyMessage({ kind: "webhook", url: "http://x" }, base).headers).not.toHaveProperty(SIGNATURE_HEADER);
  });
});

test("a process that sent notifications exits once they are delivered (no timer or kept-alive connection left)", async () => {
  const script = `import { notifier } from ${JSON.stringify(`${import.meta.dir}/notify.ts`)};
const n = notifier({ app: "a", env: "e", notify: [{ kind: "webhook", url: ${JSON.stringify(url("/exit"))} }] }, "me", {}, () => {});
n.send({ event: "push.started", targets: [] });
await n.settle();`;
  const t = performance.now();
  const p = Bun.spawn([process.execPath, "-e", script], { stdout: "ignore", stderr: "pipe" });
  expect(await p.exited).toBe(0);
  expect(received.some((r) => r.path === "/exit")).toBe(true);
  expect(performance.now() - t).toBeLessThan(900);
});
