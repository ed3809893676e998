/**
 * A tar writer for what qdeploy sends to hosts (the slug's blobs and the release's tree of
 * hard links), read there by GNU tar, and a reader of the plain files GNU tar sends back. Pure: entries -> bytes. Deterministic (mtime 0, owner
 * 0), so the same entries give the same archive and the same sha256. Names longer than
 * ustar's 100 bytes use GNU's long-name records, which GNU tar has always read.
 */

/** One archive member: a file with its bytes, a folder, a hard link to a path already on disk, or a symlink. */
export type TarEntry =
  | { type: "file"; name: string; mode: number; data: Uint8Array }
  | { type: "dir"; name: string; mode: number }
  | { type: "hardlink"; name: string; target: string }
  | { type: "symlink"; name: string; target: string };

const BLOCK = 512;
const encoder = new TextEncoder();

/** The archive for these entries, ended by two zero blocks. */
export function writeTar(entries: TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    // A folder's name ends in "/", as GNU tar writes it.
    const name = encoder.encode(e.type === "dir" && !e.name.endsWith("/") ? `${e.name}/` : e.name);
    const target = encoder.encode(e.type === "file" || e.type === "dir" ? "" : e.target);
    if (name.length === 0) throw new Error("tar: an entry without a name");
    // GNU long names: a ././@LongLink record ('L' for the name, 'K' for the link target) before the entry.
    if (name.length > 100) parts.push(...longRecord("L", name));
    if (target.length > 100) parts.push(...longRecord("K", target));
    const type = { file: "0", hardlink: "1", symlink: "2", dir: "5" }[e.type];
    const size = e.type === "file" ? e.data.length : 0;
    const mode = e.type === "file" || e.type === "dir" ? e.mode : e.type === "symlink" ? 0o777 : 0o644;
    parts.push(header(name.subarray(0, 100), type, size, mode, target.subarray(0, 100)));
    if (e.type === "file") parts.push(...padded(e.data));
  }
  parts.push(new Uint8Array(BLOCK * 2));
  return concat(parts);
}

function longRecord(type: "L" | "K", value: Uint8Array): Uint8Array[] {
  const data = new Uint8Array(value.length + 1); // NUL-terminated, as GNU tar writes it
  data.set(value);
  return [header(encoder.encode("././@LongLink"), type, data.length, 0o644, new Uint8Array(0)), ...padded(data)];
}

function header(name: Uint8Array, type: string, size: number, mode: number, link: Uint8Array): Uint8Array {
  const h = new Uint8Array(BLOCK);
  h.set(name, 0);
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, 0); // mtime
  h.set(encoder.encode("        "), 148); // the checksum field counts as spaces while summing
  h[156] = type.charCodeAt(0);
  h.set(link, 157);
  h.set(encoder.encode("ustar\u000000"), 257);
  let sum = 0;
  for (const b of h) sum += b;
  octal(h, 148, 7, sum);
  h[155] = 0x20;
  return h;
}

/** A zero-padded octal number in a field of `len` bytes, NUL-terminated. */
function octal(h: Uint8Array, at: number, len: number, n: number): void {
  const s = n.toString(8).padStart(len - 1, "0");
  if (s.length > len - 1) throw new Error(`tar: ${n} does not fit a ${len}-byte field`);
  h.set(encoder.encode(s), at);
}

function padded(data: Uint8Array): Uint8Array[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, new Uint8Array(BLOCK - rest)];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One regular file of an archive read back: its name and bytes (a view into the archive). */
export interface TarFile {
  name: string;
  data: Uint8Array;
}

const decoder = new TextDecoder();

/**
 * The regular files of an archive GNU tar wrote (`tar -cf - NAMES`), in order; GNU long
 * names are followed. Anything but a file (a link, a folder) is an error: the callers ask
 * for files only. Throws on a truncated archive or a bad checksum.
 */
export function readTar(bytes: Uint8Array): TarFile[] {
  const files: TarFile[] = [];
  let at = 0;
  let longName: string | null = null;
  while (at + BLOCK <= bytes.length) {
    const h = bytes.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) return files;
    if (checksum(h) !== readOctal(h, 148, 8)) throw new Error(`tar: a bad header checksum at byte ${at}`);
    const size = readOctal(h, 124, 12);
    const type = String.fromCharCode(h[156]!);
    const start = at + BLOCK;
    if (start + size > bytes.length) throw new Error("tar: the archive ends inside a member (truncated)");
    const data = bytes.subarray(start, start + size);
    at = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "L") {
      longName = decoder.decode(data).replace(/\0+$/, "");
      continue;
    }
    const name = longName ?? cString(h.subarray(0, 100));
    longName = null;
    if (type !== "0" && type !== "\0") throw new Error(`tar: ${name} is not a plain file (type ${JSON.stringify(type)})`);
    files.push({ name, data });
  }
  throw new Error("tar: the archive ends without its end blocks (truncated)");
}

function checksum(h: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum;
}

function readOctal(h: Uint8Array, at: number, len: number): number {
  const s = cString(h.subarray(at, at + len)).trim();
  if (!/^[0-7]+$/.test(s)) throw new Error(`tar: a header field is not octal (${JSON.stringify(s)})`);
  return parseInt(s, 8);
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return decoder.decode(end < 0 ? b : b.subarray(0, end));
}
