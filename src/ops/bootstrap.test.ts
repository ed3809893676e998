import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { publicKeyLine, publicKeysFor } from "./bootstrap.ts";

let dir: string;
let pub: string; // "ssh-ed25519 AAAA..." of dir/id
const cfg = (identity?: string) => ({ root: dir, ssh: { knownHosts: "", hostKey: "strict", ...(identity && { identity }) } }) as unknown as ResolvedConfig;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "qdeploy-bootstrap-"));
  const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "me@laptop", "-f", join(dir, "id")]);
  if (r.status !== 0) throw new Error(`ssh-keygen: ${r.stderr}`);
  pub = readFileSync(join(dir, "id.pub"), "utf8").split(" ").slice(0, 2).join(" ");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("publicKeyLine", () => {
  test("a public key file gives its type and key, without the comment", () => {
    expect(publicKeyLine(readFileSync(join(dir, "id.pub"), "utf8"))).toBe(pub);
  });
  test("a private key gives its public half", () => {
    expect(publicKeyLine(readFileSync(join(dir, "id"), "utf8"))).toBe(pub);
  });
  test("anything else is null", () => {
    expect(publicKeyLine("not a key")).toBeNull();
  });
});

describe("publicKeysFor", () => {
  test("ssh.identity's .pub, relative to deploy.toml", () => {
    expect(publicKeysFor(cfg("id"), undefined, [])).toEqual([pub]);
  });
  test("--key wins, a .pub or a private key", () => {
    expect(publicKeysFor(cfg("nope"), join(dir, "id.pub"), [])).toEqual([pub]);
    expect(publicKeysFor(cfg("nope"), join(dir, "id"), [])).toEqual([pub]);
  });
  test("~/.ssh/config's IdentityFile when ssh.identity is not set", () => {
    expect(publicKeysFor(cfg(), undefined, [join(dir, "missing"), join(dir, "id")])).toEqual([pub]);
  });
  test("no key anywhere says where it looked and what to pass", () => {
    expect(() => publicKeysFor(cfg(), undefined, [join(dir, "missing")])).toThrow(
      `no public key to authorize (looked for ${join(dir, "missing")}.pub); pass --key FILE.pub`,
    );
    expect(() => publicKeysFor(cfg(), join(dir, "missing.pub"), [])).toThrow(`--key ${join(dir, "missing.pub")}: not an SSH public or private key file`);
  });
  test("a private key without its .pub still gives the public half", () => {
    unlinkSync(join(dir, "id.pub"));
    expect(publicKeysFor(cfg("id"), undefined, [])).toEqual([pub]);
  });
});
