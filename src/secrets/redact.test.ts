import { describe, expect, test } from "bun:test";
import { redact, Redactor } from "./redact.ts";

describe("redact", () => {
  test("replaces every occurrence of every value", () => {
    expect(redact("pw=s3cret-pw user=alice again s3cret-pw", ["s3cret-pw", "alice"])).toBe(
      "pw=[redacted] user=[redacted] again [redacted]",
    );
  });

  test("leaves values shorter than 4 characters alone", () => {
    expect(redact("on port 1 in dev", ["1", "on", "dev"])).toBe("on port 1 in dev");
    expect(redact("key abcd", ["abcd"])).toBe("key [redacted]");
  });

  test("a value inside another is covered by the longer one", () => {
    expect(redact("token=abcdefgh", ["abcd", "abcdefgh"])).toBe("token=[redacted]");
    expect(redact("token=abcd-x", ["abcd", "abcdefgh"])).toBe("token=[redacted]-x");
  });

  test("regex characters are literal", () => {
    expect(redact("a.b*c(d) and axbxc", ["a.b*c(d)"])).toBe("[redacted] and axbxc");
  });

  test("never re-redacts its own marker", () => {
    expect(redact("secret: dact", ["dact"])).toBe("secret: [redacted]");
    expect(redact("x [redacted] y", ["[redacted]", "redacted"])).toBe("x [redacted] y");
  });

  test("multi-line values: whole, JSON-escaped, and line by line", () => {
    const pem = "-----BEGIN-----\nMIIBsecretline\n-----END-----";
    expect(redact(`got ${pem}!`, [pem])).toBe("got [redacted]!");
    expect(redact(JSON.stringify({ k: pem }), [pem])).toBe('{"k":"[redacted]"}');
    expect(redact("journal: MIIBsecretline", [pem])).toBe("journal: [redacted]");
  });

  test("no values, no change", () => {
    expect(redact("plain", [])).toBe("plain");
  });
});

describe("Redactor", () => {
  test("hides the values added so far, from then on", () => {
    const r = new Redactor();
    expect(r.redact("token s3cret-token")).toBe("token s3cret-token");
    r.hide(["s3cret-token"]);
    r.hide(["hunter2-pw"]);
    const { redact: hide } = r; // handed around as a plain function
    expect(hide("token s3cret-token, pw hunter2-pw")).toBe("token [redacted], pw [redacted]");
  });
});
