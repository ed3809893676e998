import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Encrypter, armor, generateIdentity, identityToRecipient } from "age-encryption";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ResolvedConfig } from "../config/types.ts";
import { ConfigError, OperationError } from "../errors.ts";
import type { SecretsIO } from "./operation.ts";
import { addRecipients, listRecipients, removeRecipients } from "./recipients.ts";
import { loadSecrets } from "./store.ts";
import { parseAssignment, setSecrets, unsetSecrets } from "./values.ts";

let root: string;
let alice: { key: string; pub: string };
let bob: { key: string; pub: string };

const person = async () => {
  const key = await generateIdentity();
  return { key, pub: await identityToRecipient(key) };
};
const config = (env = "prod", secrets: ResolvedConfig["secrets"] = { store: "age" }) =>
  ({ app: "hello", env, root, secrets }) as ResolvedConfig;
const source = (secrets: ResolvedConfig["secrets"] = { store: "age" }) => ({
  load: async (env: string) => config(env, secrets),
  environments: ["prod", "staging"],
});
const io = (key: string, lines: string[] = []): SecretsIO => ({
  stdin: async () => "",
  out: (l) => lines.push(l),
  err: (l) => lines.push(l),
  environ: { QDEPLOY_AGE_KEY: key, XDG_CONFIG_HOME: join(root, "config") },
});
/** `secrets set ENV PAIRS...` as `key`'s holder. */
const set = (env: string, pairs: string[], key: string, lines: string[] = [], secrets?: ResolvedConfig["secrets"]) =>
  setSecrets(io(key, lines), source(secrets), env, pairs.map(parseAssignment));
const load = (key: string, env = "prod", secrets: ResolvedConfig["secrets"] = { store: "age" }) =>
  loadSecrets(config(env, secrets), { environ: { QDEPLOY_AGE_KEY: key, XDG_CONFIG_HOME: join(root, "config") } });

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "qdeploy-age-test-"));
  alice = await person();
  bob = await person();
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("age store", () => {
  test("set, read back, unset: a round trip through the encrypted file", async () => {
    const lines: string[] = [];
    const value = 'multi\nline "value" \\ with = signs';
    expect(await set("prod", [`DB=${value}`, "API_KEY=k-1234"], alice.key, lines)).toEqual({ env: "prod", set: ["DB", "API_KEY"], file: "secrets/prod.env.age" });
    const file = await readFile(join(root, "secrets", "prod.env.age"));
    expect(new TextDecoder().decode(file.subarray(0, 21))).toBe("age-encryption.org/v1"); // binary format
    expect(file.includes(Buffer.from("k-1234"))).toBe(false);
    expect(await load(alice.key)).toEqual({ DB: value, API_KEY: "k-1234" });

    // The first set created recipients.txt with the user's key, and said so.
    expect(await readFile(join(root, "secrets", "recipients.txt"), "utf8")).toContain(`\n${alice.pub}\n`);
    expect(lines.join("\n")).toContain(`created secrets/recipients.txt with your public key ${alice.pub}`);
    expect(lines.join("\n")).not.toContain("k-1234");

    await unsetSecrets(io(alice.key), source(), "prod", ["DB"]);
    expect(await load(alice.key)).toEqual({ API_KEY: "k-1234" });
    expect(await load(alice.key, "staging")).toEqual({}); // no file yet: no secrets
  });

  test("a file not encrypted to you says which key you have and what to do", async () => {
    await set("prod", ["A=secretvalue"], alice.key);
    const err = await load(bob.key).catch((e) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect(err.message).toBe(
      `secrets/prod.env.age is not encrypted to your age key ${bob.pub} (from QDEPLOY_AGE_KEY). ` +
        `A teammate who can read it must run \`qdeploy secrets recipients add ${bob.pub}\`.`,
    );
  });

  test("a corrupted file says so", async () => {
    await set("prod", ["A=secretvalue"], alice.key);
    const path = join(root, "secrets", "prod.env.age");
    const bytes = await readFile(path);
    bytes[bytes.length - 5]! ^= 0xff; // flip a payload byte
    await writeFile(path, bytes);
    await expect(load(alice.key)).rejects.toThrow("secrets/prod.env.age is corrupted (it does not decrypt)");
    await writeFile(path, "not age at all");
    await expect(load(alice.key)).rejects.toThrow("secrets/prod.env.age is corrupted (not an age file)");
    await writeFile(path, bytes.subarray(0, 30));
    await expect(load(alice.key)).rejects.toThrow("secrets/prod.env.age is corrupted");
  });

  test("recipients add re-encrypts every environment so the new key can read them", async () => {
    await set("prod", ["A=1111"], alice.key);
    await set("staging", ["B=2222"], alice.key);
    await expect(load(bob.key)).rejects.toThrow("not encrypted to your age key");

    const lines: string[] = [];
    expect(await addRecipients(io(alice.key, lines), source(), [bob.pub])).toEqual({ failed: [] });
    expect(lines).toContain(`added ${bob.pub} to secrets/recipients.txt`);
    expect(lines).toContain("re-encrypted secrets/prod.env.age to 2 recipients");
    expect(await load(bob.key)).toEqual({ A: "1111" });
    expect(await load(bob.key, "staging")).toEqual({ B: "2222" });
    expect(await load(alice.key)).toEqual({ A: "1111" });

    const listed = await listRecipients(io(bob.key), source());
    expect(listed.files.flatMap((f) => f.recipients.map((r) => [r.key, r.you]))).toEqual([[alice.pub, false], [bob.pub, true]]);
  });

  test("recipients list: each file's keys with their notes, and which is yours; add: each step done on io.out", async () => {
    await set("prod", ["A=1111"], alice.key);
    const out: string[] = [];
    expect(await addRecipients({ ...io(alice.key), out: (l) => out.push(l) }, source(), [bob.pub])).toEqual({ failed: [] });
    expect(out).toEqual([`added ${bob.pub} to secrets/recipients.txt`, "re-encrypted secrets/prod.env.age to 2 recipients"]);
    expect(await listRecipients(io(bob.key), source())).toEqual(
      {
        files: [
          {
            file: "secrets/recipients.txt",
            exists: true,
            recipients: [
              { key: alice.pub, comment: expect.stringMatching(/added \d{4}-\d\d-\d\d$/), you: false },
              { key: bob.pub, comment: null, you: true },
            ],
          },
        ],
      },
    );
  });

  test("recipients add by someone who cannot read a file reports it and returns it as failed (the CLI exits 1)", async () => {
    await set("prod", ["A=1111"], alice.key);
    const carol = await person();
    const lines: string[] = [];
    expect((await addRecipients(io(bob.key, lines), source(), [carol.pub])).failed).toHaveLength(1);
    expect(lines.join("\n")).toContain("could not re-encrypt 1 file");
    expect(lines.join("\n")).toContain(`secrets/prod.env.age: secrets/prod.env.age is not encrypted to your age key ${bob.pub}`);
  });

  test("recipients remove re-encrypts every environment so the removed key reads none of them, and says to rotate", async () => {
    await set("prod", ["A=1111"], alice.key);
    await set("staging", ["B=2222"], alice.key);
    await addRecipients(io(alice.key), source(), [bob.pub]);
    expect(await load(bob.key, "staging")).toEqual({ B: "2222" });

    const lines: string[] = [];
    await removeRecipients(io(alice.key, lines), source(), [bob.pub]);
    expect(lines).toContain(`removed ${bob.pub} from secrets/recipients.txt`);
    expect(lines).toContain("re-encrypted secrets/prod.env.age to 1 recipient");
    expect(lines).toContain("re-encrypted secrets/staging.env.age to 1 recipient");
    expect(lines.join("\n")).toContain("keeps every value it could read");
    expect(lines.join("\n")).toContain("rotate those secrets");
    await expect(load(bob.key)).rejects.toThrow("not encrypted to your age key");
    await expect(load(bob.key, "staging")).rejects.toThrow("not encrypted to your age key");
    expect(await load(alice.key)).toEqual({ A: "1111" });
    expect(await load(alice.key, "staging")).toEqual({ B: "2222" });
    const text = await readFile(join(root, "secrets", "recipients.txt"), "utf8");
    expect(text).not.toContain(bob.pub);
    expect(text).toContain(`\n${alice.pub}\n`);
    expect(text).toStartWith("# Public keys"); // comments stay
  });

  test("recipients remove refuses the last recipient and a key that is not there, changing nothing", async () => {
    await set("prod", ["A=1111"], alice.key);
    const before = await readFile(join(root, "secrets", "prod.env.age"));
    const last = await removeRecipients(io(alice.key), source(), [alice.pub]).catch((e) => e);
    expect(last).toBeInstanceOf(OperationError);
    expect(last.message).toStartWith("refusing to remove the last recipient of secrets/recipients.txt");
    const absent = await removeRecipients(io(alice.key), source(), [bob.pub]).catch((e) => e);
    expect(absent.message).toBe(`qdeploy secrets recipients remove: ${bob.pub} is not in secrets/recipients.txt`);
    expect(await readFile(join(root, "secrets", "prod.env.age"))).toEqual(before);
    expect(await load(alice.key)).toEqual({ A: "1111" });
  });

  test("recipients remove by someone who cannot read every file changes nothing", async () => {
    await set("prod", ["A=1111"], alice.key);
    const carol = await person();
    await addRecipients(io(alice.key), source(), [bob.pub, carol.pub]);
    // staging is encrypted to alice alone, so bob cannot re-encrypt it without carol.
    const onlyAlice = new Encrypter();
    onlyAlice.addRecipient(alice.pub);
    await writeFile(join(root, "secrets", "staging.env.age"), await onlyAlice.encrypt("B=2222\n"));
    const e = await removeRecipients(io(bob.key), source(), [carol.pub]).catch((x) => x);
    expect(e).toBeInstanceOf(OperationError);
    expect(e.message).toStartWith("nothing was changed: the removed key could still read this file");
    expect(e.message).toContain("secrets/staging.env.age");
    expect(await readFile(join(root, "secrets", "recipients.txt"), "utf8")).toContain(carol.pub);
    expect(await load(carol.key)).toEqual({ A: "1111" });
  });

  test("recipients add refuses a secret key without echoing it", async () => {
    const err = await addRecipients(io(alice.key), source(), [alice.key]).catch((e) => e);
    expect(err.message).toContain("this is a secret key");
    expect(err.message).not.toContain(alice.key);
  });

  test("a bad recipients file names the line", async () => {
    await mkdir(join(root, "secrets"));
    await writeFile(join(root, "secrets", "recipients.txt"), `# team\n${alice.pub}\nage1notakey\n`);
    const err = await set("prod", ["A=1"], alice.key).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe("secrets/recipients.txt:3: not a valid age public key (age1...): check it was copied whole");
  });

  test("secrets.file and secrets.recipients move the files; a configured file that is missing is an error", async () => {
    const secrets = { store: "age" as const, file: "config/prod.age", recipients: "config/keys.txt" };
    await expect(load(alice.key, "prod", secrets)).rejects.toThrow("config/prod.age (secrets.file) does not exist");
    await set("prod", ["A=1"], alice.key, [], secrets);
    expect(await readFile(join(root, "config", "keys.txt"), "utf8")).toContain(alice.pub);
    expect(await load(alice.key, "prod", secrets)).toEqual({ A: "1" });
  });

  test("an armored file reads too", async () => {
    const e = new Encrypter();
    e.addRecipient(alice.pub);
    await mkdir(join(root, "secrets"));
    await writeFile(join(root, "secrets", "prod.env.age"), armor.encode(await e.encrypt("A=armored\n")));
    expect(await load(alice.key)).toEqual({ A: "armored" });
  });

  test("a decrypted file with bad lines names file and line only", async () => {
    const e = new Encrypter();
    e.addRecipient(alice.pub);
    await mkdir(join(root, "secrets"));
    await writeFile(join(root, "secrets", "prod.env.age"), await e.encrypt("A=1\nsecretline\n"));
    await expect(load(alice.key)).rejects.toThrow(/^secrets\/prod\.env\.age:2: expected KEY=VALUE$/);
  });

  test("reading needs an identity, and says how to get one", async () => {
    await set("prod", ["A=1"], alice.key);
    const err = await loadSecrets(config(), { environ: { XDG_CONFIG_HOME: join(root, "config") } }).catch((e) => e);
    expect(err.message).toStartWith("no age identity to decrypt secrets with");
  });
});
