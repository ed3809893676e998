import { describe, expect, test } from "bun:test";
import { sign, verifySignature } from "./signature.ts";

// GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
const GITHUB_EXAMPLE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

describe("webhook signatures", () => {
  test("sign matches GitHub's documented example", () => {
    expect(sign("It's a Secret to Everybody", "Hello, World!")).toBe(GITHUB_EXAMPLE);
  });

  test("good verifies; bad, missing, wrong prefix, wrong length, another body or secret do not", () => {
    const s = "It's a Secret to Everybody";
    expect(verifySignature(s, "Hello, World!", GITHUB_EXAMPLE)).toBe(true);
    expect(verifySignature(s, "Hello, World!", GITHUB_EXAMPLE.toUpperCase().replace("SHA256", "sha256"))).toBe(true);
    expect(verifySignature(s, "Hello, World!", undefined)).toBe(false);
    expect(verifySignature(s, "Hello, World!", "")).toBe(false);
    expect(verifySignature(s, "Hello, World!", GITHUB_EXAMPLE.replace("sha256=", "sha1="))).toBe(false);
    expect(verifySignature(s, "Hello, World!", GITHUB_EXAMPLE.slice(0, -2))).toBe(false);
    expect(verifySignature(s, "Hello, World?", GITHUB_EXAMPLE)).toBe(false);
    expect(verifySignature("other", "Hello, World!", GITHUB_EXAMPLE)).toBe(false);
    expect(verifySignature(s, "Hello, World!", `${GITHUB_EXAMPLE.slice(0, -1)}0`)).toBe(false);
  });
});
