/**
 * OpenSSH known_hosts: parsing, lookup and the accept-new append. Pure except for
 * readKnownHosts and appendKnownHost, which touch the one file.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { appendFileSync, chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, fstatSync } from "node:fs";
import { dirname } from "node:path";

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  /** 1-based line number, for messages. */
  line: number;
  marker: "revoked" | "cert-authority" | null;
  /** Comma-separated patterns (`host`, `[host]:port`, `*.example.com`, `!bad`), or a hashed name. */
  hosts: { kind: "patterns"; patterns: string[] } | { kind: "hashed"; salt: Buffer; hash: Buffer };
  keyType: string;
  key: Buffer;
}

/** The status of a presented host key. */
export type HostKeyStatus = "ok" | "unknown" | "mismatch" | "revoked";

/** Parses known_hosts text; lines it cannot read are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry["marker"] = null;
    if (fields[0]!.startsWith("@")) {
      const m = fields.shift()!;
      if (m === "@revoked") marker = "revoked";
      else if (m === "@cert-authority") marker = "cert-authority";
      else return;
    }
    if (fields.length < 3) return;
    const [hostField, keyType, keyB64] = fields as [string, string, string];
    const key = Buffer.from(keyB64, "base64");
    // A blob starts with its own type; a line whose two disagree is corrupt.
    if (!key.length || blobKeyType(key) !== keyType) return;
    let hosts: KnownHostEntry["hosts"];
    if (hostField.startsWith("|1|")) {
      const [, , salt, hash] = hostField.split("|");
      if (!salt || !hash) return;
      hosts = { kind: "hashed", salt: Buffer.from(salt, "base64"), hash: Buffer.from(hash, "base64") };
    } else {
      hosts = { kind: "patterns", patterns: hostField.split(",").filter(Boolean) };
    }
    entries.push({ line: i + 1, marker, hosts, keyType, key });
  });
  return entries;
}

/** Reads and parses a known_hosts file; a missing file has no entries. */
export function readKnownHosts(file: string): KnownHostEntry[] {
  if (!existsSync(file)) return [];
  return parseKnownHosts(readFileSync(file, "utf8"));
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function knownHostName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** Whether an entry's host field names host:port (hashed names, wildcards, `!` negation). */
export function entryMatches(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = knownHostName(host, port);
  if (entry.hosts.kind === "hashed") {
    const mac = createHmac("sha1", entry.hosts.salt).update(name).digest();
    return mac.length === entry.hosts.hash.length && timingSafeEqual(mac, entry.hosts.hash);
  }
  let matched = false;
  for (const p of entry.hosts.patterns) {
    const negated = p.startsWith("!");
    if (globMatch(negated ? p.slice(1) : p, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function globMatch(pattern: string, name: string): boolean {
  const re = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`).test(name);
}

/**
 * The keys listed for host:port (not revoked, not CA keys), and whether `key` (when
 * given) is revoked for it.
 */
export function lookupHostKey(
  entries: KnownHostEntry[],
  host: string,
  port: number,
  key?: Buffer,
): { matches: KnownHostEntry[]; revoked: boolean } {
  const matches: KnownHostEntry[] = [];
  let revoked = false;
  for (const e of entries) {
    if (e.marker === "cert-authority" || !entryMatches(e, host, port)) continue;
    if (e.marker === "revoked") {
      if (key && e.key.equals(key)) revoked = true;
      continue;
    }
    matches.push(e);
  }
  return { matches, revoked };
}

/**
 * Judges a presented host key. A host that has keys listed, none of them this one, is a
 * mismatch even when the listed keys are of another type: a changed key type is treated
 * as a changed key rather than a new host (stricter than OpenSSH, which would ask).
 */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyStatus {
  const { matches, revoked } = lookupHostKey(entries, host, port, key);
  if (revoked) return "revoked";
  if (matches.some((e) => e.key.equals(key))) return "ok";
  return matches.length ? "mismatch" : "unknown";
}

/** `SHA256:...` of a key blob, as `ssh-keygen -l` prints it. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** The type a key blob names first (`ssh-ed25519`, `ssh-rsa`, ...); "" if unreadable. */
export function blobKeyType(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return "";
  const n = keyBlob.readUInt32BE(0);
  if (n > keyBlob.length - 4 || n > 64) return "";
  return keyBlob.subarray(4, 4 + n).toString("latin1");
}

/** Appends `[host]:port TYPE KEY` (accept-new); creates the file 0600 and its folder 0700 if missing. */
export function appendKnownHost(file: string, host: string, port: number, keyType: string, keyBlob: Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const created = !existsSync(file);
  let prefix = "";
  if (!created) {
    // Do not glue our line onto a last line that lacks its newline.
    const fd = openSync(file, "r");
    try {
      const size = fstatSync(fd).size;
      if (size > 0) {
        const last = Buffer.alloc(1);
        readSync(fd, last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = "\n";
      }
    } finally {
      closeSync(fd);
    }
  }
  appendFileSync(file, `${prefix}${knownHostName(host, port)} ${keyType} ${keyBlob.toString("base64")}\n`, { mode: 0o600 });
  if (created) chmodSync(file, 0o600);
}
