import { describe, expect, test } from "bun:test";
import { colorFor, createOutput, type OutputOptions, printEvents, redactingOutput } from "./output.ts";
import { type OpEvent, plainEvents, startTicker } from "./events.ts";

describe("colorFor", () => {
  const cases: [string, boolean | undefined, Record<string, string | undefined>, boolean][] = [
    ["a TTY", true, {}, true],
    ["not a TTY", false, {}, false],
    ["isTTY unset (a pipe)", undefined, {}, false],
    ["NO_COLOR=1 on a TTY", true, { NO_COLOR: "1" }, false],
    ["NO_COLOR=anything on a TTY", true, { NO_COLOR: "no" }, false],
    ["NO_COLOR empty is unset", true, { NO_COLOR: "" }, true],
    ["TERM=dumb on a TTY", true, { TERM: "dumb" }, false],
    ["TERM=xterm-256color on a TTY", true, { TERM: "xterm-256color" }, true],
    ["FORCE_COLOR=1 off a TTY", false, { FORCE_COLOR: "1" }, true],
    ["FORCE_COLOR=2 off a TTY", false, { FORCE_COLOR: "2" }, true],
    ["FORCE_COLOR=3 off a TTY", false, { FORCE_COLOR: "3" }, true],
    ["FORCE_COLOR=true off a TTY", false, { FORCE_COLOR: "true" }, true],
    ["FORCE_COLOR empty off a TTY (as Node: on)", false, { FORCE_COLOR: "" }, true],
    ["FORCE_COLOR=0 on a TTY", true, { FORCE_COLOR: "0" }, false],
    ["FORCE_COLOR=false on a TTY", true, { FORCE_COLOR: "false" }, false],
    ["FORCE_COLOR=FALSE on a TTY", true, { FORCE_COLOR: "FALSE" }, false],
    ["FORCE_COLOR=1 beats NO_COLOR (as Node)", false, { FORCE_COLOR: "1", NO_COLOR: "1" }, true],
    ["FORCE_COLOR=1 beats TERM=dumb", false, { FORCE_COLOR: "1", TERM: "dumb" }, true],
    ["FORCE_COLOR=0 with NO_COLOR", true, { FORCE_COLOR: "0", NO_COLOR: "1" }, false],
  ];
  for (const [name, isTTY, env, want] of cases) {
    test(name, () => expect(colorFor(isTTY === undefined ? {} : { isTTY }, env)).toBe(want));
  }
});

/** An output whose stdout and stderr are captured apart, plus both in order as one "screen". */
function capture(opts: OutputOptions) {
  const out: string[] = [];
  const err: string[] = [];
  const both: string[] = [];
  const o = createOutput({
    columns: 80,
    ...opts,
    write: (t) => (out.push(t), both.push(t)),
    writeErr: (t) => (err.push(t), both.push(t)),
  });
  return { o, out, err, both };
}

describe("colour per stream", () => {
  test("stdout coloured, stderr not", () => {
    const { o, out, err } = capture({ tty: true, color: true, errColor: false });
    o.host("h1", "hello");
    o.error("bad");
    o.warn("hmm");
    expect(out).toEqual(["\x1b[36mh1\x1b[0m hello\n"]);
    expect(err).toEqual(["error: bad\n", "warning: hmm\n"]);
  });
  test("stderr coloured, stdout not (stdout piped)", () => {
    const { o, out, err } = capture({ tty: false, color: false, errColor: true });
    o.result("done");
    o.error("bad");
    expect(out).toEqual(["done\n"]);
    expect(err).toEqual(["\x1b[31merror:\x1b[0m bad\n"]);
  });
});

describe("progress on a terminal", () => {
  const term = { tty: true, color: false, errTty: true, errColor: false } satisfies OutputOptions;

  test("one key: drawn, redrawn in place, then its final line", () => {
    const { o, out, err, both } = capture(term);
    o.progress("build", "building 1s");
    o.progress("build", "building 2s");
    o.progress("build", "built in 2.5s", true);
    expect(err).toEqual(["\r\x1b[2Kbuilding 1s\n", "\x1b[1A\r\x1b[2Kbuilding 2s\n", "\x1b[1A\r\x1b[J"]);
    expect(out).toEqual(["built in 2.5s\n"]);
    expect(both.join("")).toBe("\r\x1b[2Kbuilding 1s\n\x1b[1A\r\x1b[2Kbuilding 2s\n\x1b[1A\r\x1b[Jbuilt in 2.5s\n");
  });

  test("several keys: a block of lines, in first-seen order, redrawn together", () => {
    const { o, err } = capture(term);
    o.progress("a", "a 10%");
    o.progress("b", "b 5%");
    o.progress("a", "a 20%");
    expect(err).toEqual(["\r\x1b[2Ka 10%\n", "\x1b[1A\r\x1b[2Ka 10%\n\r\x1b[2Kb 5%\n", "\x1b[2A\r\x1b[2Ka 20%\n\r\x1b[2Kb 5%\n"]);
  });

  test("a finished key leaves its final line above the others' live lines", () => {
    const { o, both } = capture(term);
    o.progress("a", "a 50%");
    o.progress("b", "b 50%");
    o.progress("a", "a done", true);
    expect(both.slice(2)).toEqual(["\x1b[2A\r\x1b[J", "a done\n", "\r\x1b[2Kb 50%\n"]);
  });

  test("done with an empty line frees the key and prints nothing", () => {
    const { o, out, err } = capture(term);
    o.progress("w", "waiting 1s");
    o.progress("w", "", true);
    expect(out).toEqual([]);
    expect(err).toEqual(["\r\x1b[2Kwaiting 1s\n", "\x1b[1A\r\x1b[J"]);
    o.info("next");
    expect(out).toEqual(["next\n"]); // no block left to wipe
  });

  test("other lines wipe the block first and redraw it after", () => {
    const { o, both } = capture(term);
    o.progress("u", "up 10%");
    o.host("h1", "uploading");
    o.warn("careful");
    expect(both).toEqual([
      "\r\x1b[2Kup 10%\n",
      "\x1b[1A\r\x1b[J",
      "h1 uploading\n",
      "\r\x1b[2Kup 10%\n",
      "\x1b[1A\r\x1b[J",
      "warning: careful\n",
      "\r\x1b[2Kup 10%\n",
    ]);
  });

  test("stdout not a terminal: its lines do not touch the block", () => {
    const { o, both } = capture({ ...term, tty: false });
    o.progress("u", "up 10%");
    o.result("a result");
    expect(both).toEqual(["\r\x1b[2Kup 10%\n", "a result\n"]);
  });

  test("a line wider than the terminal is cut, so a redraw never wraps", () => {
    const { o, err } = capture({ ...term, columns: 20 });
    o.progress("k", "x".repeat(30));
    expect(err).toEqual([`\r\x1b[2K${"x".repeat(18)}…\n`]);
  });

  for (const [name, flags] of [
    ["--quiet", { quiet: true }],
    ["--json", { json: true }],
  ] as const) {
    test(`${name}: nothing live, no final line`, () => {
      const { o, both } = capture({ ...term, ...flags });
      o.progress("k", "working");
      o.progress("k", "worked", true);
      expect(both).toEqual([]);
    });
  }
});

describe("progress off a terminal (CI)", () => {
  test("only the final line, timestamped like every other line", () => {
    const { o, out, err } = capture({ tty: false, color: false, errTty: false, errColor: false });
    o.progress("u", "up 10%");
    o.progress("u", "up 90%");
    o.progress("u", "uploaded", true);
    o.progress("w", "waiting", true);
    o.progress("x", "", true);
    expect(err).toEqual([]);
    expect(out.length).toBe(2);
    expect(out[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z uploaded\n$/);
    expect(out[1]).toMatch(/Z waiting\n$/);
  });
});

describe("progress through events", () => {
  test("printEvents draws progress events as live lines", () => {
    const { o, both } = capture({ tty: true, color: false, errTty: true, errColor: false });
    const ev = printEvents(o);
    ev({ type: "progress", key: "k", line: "live" });
    ev({ type: "progress", key: "k", line: "final", done: true });
    expect(both).toEqual(["\r\x1b[2Klive\n", "\x1b[1A\r\x1b[J", "final\n"]);
  });

  test("plainEvents (serve's runs): live lines dropped, a final one becomes info", () => {
    const seen: OpEvent[] = [];
    const ev = plainEvents((e) => seen.push(e));
    ev({ type: "progress", key: "k", line: "live" });
    ev({ type: "progress", key: "k", line: "", done: true });
    ev({ type: "progress", key: "k2", line: "live" });
    ev({ type: "progress", key: "k2", line: "done", done: true });
    ev({ type: "host", host: "h", line: "line" });
    expect(seen).toEqual([
      { type: "info", line: "done" },
      { type: "host", host: "h", line: "line" },
    ]);
  });

  test("redactingOutput hides secrets in live lines too", () => {
    const { o, err } = capture({ tty: true, color: false, errTty: true, errColor: false });
    redactingOutput(o, (s) => s.replaceAll("s3cret", "***")).progress("k", "at s3cret");
    expect(err).toEqual(["\r\x1b[2Kat ***\n"]);
  });

  test("redactingOutput hides a value holding a newline and a quote in --json data, where JSON would escape it", () => {
    const pem = '-----BEGIN KEY-----\nMII"x\n-----END KEY-----';
    const { o, out } = capture({ json: true });
    redactingOutput(o, (s) => s.replaceAll(pem, "[redacted]")).data({ error: { message: `bad key ${pem}` }, n: 1 });
    expect(out.join("")).not.toContain("MII");
    expect(JSON.parse(out.join(""))).toEqual({ error: { message: "bad key [redacted]" }, n: 1 });
  });
});

describe("startTicker", () => {
  test("a spinner frame and the elapsed time, redrawn on its own, then stopped", async () => {
    const { o, err, out } = capture({ tty: true, color: false, errTty: true, errColor: false });
    const t = startTicker(printEvents(o), "k", (s) => `waiting (${s >= 0.1 ? "late" : "early"})`, 20);
    await Bun.sleep(150);
    t.stop("over");
    t.stop("twice"); // once only
    const frames = err.slice(0, -1);
    expect(frames[0]).toBe("\r\x1b[2K⠋ waiting (early)\n");
    expect(frames[1]).toBe("\x1b[1A\r\x1b[2K⠙ waiting (early)\n");
    expect(frames.length).toBeGreaterThanOrEqual(4);
    expect(frames.at(-1)).toMatch(/^\x1b\[1A\r\x1b\[2K. waiting \(late\)\n$/);
    expect(err.at(-1)).toBe("\x1b[1A\r\x1b[J");
    expect(out).toEqual(["over\n"]);
    const n = err.length;
    await Bun.sleep(60);
    expect(err.length).toBe(n); // no tick after stop
  });
});
