import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultIdentityPath, resolveIdentity } from "./identity.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "qdeploy-identity-test-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("resolveIdentity", () => {
  test("default path follows XDG_CONFIG_HOME, else HOME/.config", () => {
    expect(defaultIdentityPath({ XDG_CONFIG_HOME: "/x", HOME: "/h" })).toBe("/x/qdeploy/age-identity.txt");
    expect(defaultIdentityPath({ HOME: "/h" })).toBe("/h/.config/qdeploy/age-identity.txt");
  });

  test("creates the default identity once, 0600 in a 0700 folder, in age-keygen's format", async () => {
    const environ = { HOME: dir };
    const first = await resolveIdentity({ environ, create: true });
    const path = join(dir, ".config", "qdeploy", "age-identity.txt");
    expect(first.created).toBe(true);
    expect(first.source).toBe(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, ".config", "qdeploy"))).mode & 0o777).toBe(0o700);
    const text = await readFile(path, "utf8");
    expect(text).toContain(`# public key: ${first.publicKey}\n`);
    expect(await identityToRecipient(first.identities[0]!)).toBe(first.publicKey);

    const second = await resolveIdentity({ environ, create: true });
    expect(second.created).toBe(false);
    expect(second.publicKey).toBe(first.publicKey);
  });

  test("without create, no identity is a clear error saying where to get one", async () => {
    const p = resolveIdentity({ environ: { XDG_CONFIG_HOME: dir }, create: false });
    await expect(p).rejects.toThrow(/no age identity.*QDEPLOY_AGE_KEY.*--identity FILE.*age-identity\.txt/s);
  });

  test("QDEPLOY_AGE_KEY: the key itself, or a whole pasted identity file", async () => {
    const key = await generateIdentity();
    const pub = await identityToRecipient(key);
    const a = await resolveIdentity({ environ: { XDG_CONFIG_HOME: dir, QDEPLOY_AGE_KEY: `${key}\n` }, create: true });
    expect(a).toEqual({ identities: [key], publicKey: pub, source: "QDEPLOY_AGE_KEY", created: false });
    const pasted = `# created: today\n# public key: ${pub}\n${key}\n`;
    const b = await resolveIdentity({ environ: { XDG_CONFIG_HOME: dir, QDEPLOY_AGE_KEY: pasted }, create: false });
    expect(b.publicKey).toBe(pub);
  });

  test("--identity FILE wins over QDEPLOY_AGE_KEY", async () => {
    const fileKey = await generateIdentity();
    const file = join(dir, "key.txt");
    await writeFile(file, `${fileKey}\n`);
    const r = await resolveIdentity({
      identityFile: file,
      environ: { QDEPLOY_AGE_KEY: await generateIdentity() },
      create: false,
    });
    expect(r.publicKey).toBe(await identityToRecipient(fileKey));
    expect(r.source).toBe(file);
  });

  test("a malformed key is named by source and line, never echoed", async () => {
    const bad = "AGE-SECRET-KEY-1NOTREALLYAKEYhunter2";
    await expect(resolveIdentity({ environ: { QDEPLOY_AGE_KEY: bad }, create: false })).rejects.toThrow(
      "QDEPLOY_AGE_KEY: the age identity in it is malformed",
    );
    const err = await resolveIdentity({ environ: { QDEPLOY_AGE_KEY: "# c\nhunter2" }, create: false }).catch((e) => e);
    expect(err.message).toBe("QDEPLOY_AGE_KEY: line 2 is not an age identity (AGE-SECRET-KEY-1...)");
    const missing = await resolveIdentity({ identityFile: join(dir, "nope"), environ: {}, create: false }).catch((e) => e);
    expect(missing.message).toContain("cannot read the age identity");
    expect(missing.message).toContain("ENOENT");
  });
});
