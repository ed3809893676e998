import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  appendKnownHost,
  blobKeyType,
  checkHostKey,
  fingerprint,
  knownHostName,
  lookupHostKey,
  parseKnownHosts,
  readKnownHosts,
} from "./known-hosts.ts";

// Two ed25519 keys and what `ssh-keygen -lf` printed for them.
const K1 = "AAAAC3NzaC1lZDI1NTE5AAAAIPRa0v0yEXiOOMZg3SdKZFcB95GyhzURloeLAmY0y+XV";
const K1_FP = "SHA256:ARk3xEiqgVznyXGHUIaOZdzsYfWrReWWIxPPx+gEPyE";
const K2 = "AAAAC3NzaC1lZDI1NTE5AAAAIKSpWdqPzD9bjenpHwfeUl9nWc/k5NLNjLe+kZsu6IX0";
const K2_FP = "SHA256:kzxZ/sgSdY4jj+PT91OOt/a8jcuNL8PoWtfyerrilew";
const k1 = Buffer.from(K1, "base64");
const k2 = Buffer.from(K2, "base64");

// `ssh-keygen -H` of "[example.com]:2222 K1" and "web1.example.com K2".
const HASHED = `|1|/rMOWIjA2SHlJTaOto2+Hp0Xqgg=|J2v4GLNzlL9WncxGUyYxIcld7LY= ssh-ed25519 ${K1}
|1|gdoPQcrv8cC+QKuMrPpYFQQuI/4=|+2KRIydfUHfYhdW5JwsSXlCl6DI= ssh-ed25519 ${K2}
`;

describe("fingerprint", () => {
  test("matches ssh-keygen -l", () => {
    expect(fingerprint(k1)).toBe(K1_FP);
    expect(fingerprint(k2)).toBe(K2_FP);
  });
  test("blob key type", () => {
    expect(blobKeyType(k1)).toBe("ssh-ed25519");
    expect(blobKeyType(Buffer.from("xx"))).toBe("");
  });
});

describe("parseKnownHosts", () => {
  test("plain, port, comma lists, markers, comments, junk", () => {
    const entries = parseKnownHosts(
      [
        "# a comment",
        "",
        `a.example.com,10.0.0.1 ssh-ed25519 ${K1} comment words`,
        `[b.example.com]:2222 ssh-ed25519 ${K2}`,
        `@revoked * ssh-ed25519 ${K2}`,
        `@cert-authority *.example.com ssh-ed25519 ${K1}`,
        `@unknown-marker c.example.com ssh-ed25519 ${K1}`,
        `d.example.com ssh-rsa ${K1}`, // type disagrees with the blob: corrupt
        "e.example.com ssh-ed25519",
      ].join("\n"),
    );
    expect(entries.map((e) => [e.line, e.marker, e.hosts.kind === "patterns" ? e.hosts.patterns : "hashed"])).toEqual([
      [3, null, ["a.example.com", "10.0.0.1"]],
      [4, null, ["[b.example.com]:2222"]],
      [5, "revoked", ["*"]],
      [6, "cert-authority", ["*.example.com"]],
    ]);
    expect(entries[0]!.key.equals(k1)).toBe(true);
  });
});

describe("lookup and check", () => {
  const table: [string, string, string, number, Buffer, string][] = [
    // [name, known_hosts, host, port, presented, status]
    ["plain ok", `a.example.com ssh-ed25519 ${K1}`, "a.example.com", 22, k1, "ok"],
    ["case-insensitive", `A.Example.COM ssh-ed25519 ${K1}`, "a.example.com", 22, k1, "ok"],
    ["comma list", `x,a.example.com ssh-ed25519 ${K1}`, "a.example.com", 22, k1, "ok"],
    ["unknown host", `a.example.com ssh-ed25519 ${K1}`, "b.example.com", 22, k1, "unknown"],
    ["mismatch", `a.example.com ssh-ed25519 ${K1}`, "a.example.com", 22, k2, "mismatch"],
    ["port 22 is the bare name", `[a.example.com]:22 ssh-ed25519 ${K1}`, "a.example.com", 22, k1, "unknown"],
    ["other port needs brackets", `a.example.com ssh-ed25519 ${K1}`, "a.example.com", 2222, k1, "unknown"],
    ["bracketed port", `[a.example.com]:2222 ssh-ed25519 ${K1}`, "a.example.com", 2222, k1, "ok"],
    ["wildcard", `*.example.com ssh-ed25519 ${K1}`, "a.example.com", 22, k1, "ok"],
    ["question mark", `web?.example.com ssh-ed25519 ${K1}`, "web1.example.com", 22, k1, "ok"],
    ["negation wins", `*.example.com,!a.example.com ssh-ed25519 ${K1}`, "a.example.com", 22, k1, "unknown"],
    ["hashed with port", HASHED, "example.com", 2222, k1, "ok"],
    ["hashed plain", HASHED, "web1.example.com", 22, k2, "ok"],
    ["hashed mismatch", HASHED, "web1.example.com", 22, k1, "mismatch"],
    ["hashed other port", HASHED, "example.com", 22, k1, "unknown"],
    ["revoked beats listed", `a.example.com ssh-ed25519 ${K1}\n@revoked * ssh-ed25519 ${K1}`, "a.example.com", 22, k1, "revoked"],
    ["revoked other key", `a.example.com ssh-ed25519 ${K1}\n@revoked * ssh-ed25519 ${K2}`, "a.example.com", 22, k1, "ok"],
    ["cert-authority ignored", `@cert-authority a.example.com ssh-ed25519 ${K1}`, "a.example.com", 22, k1, "unknown"],
    ["second key listed", `a.example.com ssh-ed25519 ${K2}\na.example.com ssh-ed25519 ${K1}`, "a.example.com", 22, k1, "ok"],
  ];
  for (const [name, text, host, port, key, status] of table) {
    test(name, () => expect(checkHostKey(parseKnownHosts(text), host, port, key)).toBe(status as never));
  }

  test("lookupHostKey lists matches and revocation", () => {
    const entries = parseKnownHosts(`a ssh-ed25519 ${K1}\nb ssh-ed25519 ${K2}\n@revoked a ssh-ed25519 ${K2}`);
    const r = lookupHostKey(entries, "a", 22, k2);
    expect(r.revoked).toBe(true);
    expect(r.matches.map((e) => e.line)).toEqual([1]);
    expect(lookupHostKey(entries, "a", 22).revoked).toBe(false);
  });
});

describe("appendKnownHost", () => {
  test("creates the file 0600 (and its folder), then appends; the result reads back", () => {
    const dir = mkdtempSync(join(tmpdir(), "kh-"));
    const file = join(dir, "sub", "known_hosts");
    appendKnownHost(file, "h.example.com", 2200, "ssh-ed25519", k1);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toBe(`[h.example.com]:2200 ssh-ed25519 ${K1}\n`);
    appendKnownHost(file, "g.example.com", 22, "ssh-ed25519", k2);
    expect(checkHostKey(readKnownHosts(file), "g.example.com", 22, k2)).toBe("ok");
    expect(checkHostKey(readKnownHosts(file), "h.example.com", 2200, k1)).toBe("ok");
  });

  test("adds the newline a hand-edited last line lacks", () => {
    const file = join(mkdtempSync(join(tmpdir(), "kh-")), "known_hosts");
    writeFileSync(file, `a.example.com ssh-ed25519 ${K1}`);
    appendKnownHost(file, "b.example.com", 22, "ssh-ed25519", k2);
    expect(readFileSync(file, "utf8")).toBe(`a.example.com ssh-ed25519 ${K1}\nb.example.com ssh-ed25519 ${K2}\n`);
  });

  test("missing file reads as empty", () => {
    expect(readKnownHosts("/nonexistent/known_hosts")).toEqual([]);
    expect(knownHostName("H.example.com", 22)).toBe("h.example.com");
  });
});
