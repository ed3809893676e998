/**
 * Files onto a host over one SSH channel each: write() sends content on stdin to
 * server/write.sh, upload() streams a local file compressed (or as a zstd patch against a
 * file the host has) to server/upload.sh, which checks its sha256. Either way the file
 * appears whole at its path or not at all.
 */
import { createReadStream, statSync } from "node:fs";
import type { Readable, Transform } from "node:stream";
import * as zlib from "node:zlib";
import type { ClientChannel } from "ssh2";
import { OperationError, RemoteError } from "../errors.ts";
import { uploadScript, writeScript } from "../server-scripts.ts";
import type { UploadOptions, UploadResult } from "./remote.ts";
import type { ChannelOutcome, SshSession } from "./ssh-remote.ts";
import { zstdPatch } from "./zstd-patch.ts";

/** upload.sh's exit status when the file on the host has another sha256. */
const SHA_MISMATCH_EXIT = 3;
/** upload.sh's exit status when the host could not apply a zstd patch (./zstd-patch.ts). */
const CANNOT_PATCH_EXIT = 4;
const HOST_CANNOT_PATCH = Symbol("the host cannot apply a zstd patch");
/** Upload progress at most this often (~10/s). */
const PROGRESS_EVERY_MS = 100;

/** Remote.write: content with this mode at path, through a temp file and a rename. */
export async function writeFile(s: SshSession, path: string, content: string | Uint8Array, mode: number): Promise<void> {
  const data = Buffer.from(content);
  const modeStr = `0${mode.toString(8)}`;
  // Only the path, the mode and the length are on the command line; the content is on stdin.
  const argv = ["sh", "-c", writeScript, "sh", path, modeStr, String(data.length)];
  const shown = `writing ${path}`;
  const out = await s.run(s.commandLine(argv), shown, {}, (ch) => {
    ch.end(data);
  });
  if (out.code !== 0) {
    throw new RemoteError(s.label, `${shown} (mode ${modeStr}) failed${exitText(out)}`, {
      argv: ["write", path, modeStr],
      code: out.code,
      stderr: out.stderr,
    });
  }
}

/**
 * Remote.upload: localPath compressed onto the host, checked, renamed to remotePath. With a
 * `base` the host has, and zstd on both ends, it goes as a zstd patch against that base
 * (./zstd-patch.ts); a host that cannot apply one gets the whole file.
 */
export async function uploadFile(s: SshSession, localPath: string, remotePath: string, opts: UploadOptions): Promise<UploadResult> {
  fileSize(s, localPath); // a missing file fails here, not as a patch that could not be made
  const compression = opts.compression ?? "gzip";
  if (opts.base && compression === "zstd") {
    const patch = await zstdPatch(localPath, opts.base.local);
    if (patch) {
      const r = await send(s, patch, remotePath, opts, ["zstd-patch", opts.base.remote], null);
      if (r !== HOST_CANNOT_PATCH) return { bytesSent: r, patched: true };
    }
  }
  const r = await send(s, localPath, remotePath, opts, [compression], compression === "zstd" ? createZstd() : zlib.createGzip());
  if (r === HOST_CANNOT_PATCH) throw new Error("upload.sh: exit 4 without a patch");
  return { bytesSent: r, patched: false };
}

function fileSize(s: SshSession, localPath: string): number {
  try {
    const st = statSync(localPath);
    if (!st.isFile()) throw new Error("not a file");
    return st.size;
  } catch (e) {
    throw new OperationError(`${s.label}: cannot upload ${localPath}: ${(e as Error).message}`);
  }
}

/**
 * Streams `file` through `comp` (null: it is compressed already) to upload.sh run with `how`
 * (its mode and arguments after PATH SHA256 MODE); the bytes sent, or HOST_CANNOT_PATCH.
 */
async function send(s: SshSession, file: string, remotePath: string, opts: UploadOptions, how: string[], comp: Transform | null): Promise<number | typeof HOST_CANNOT_PATCH> {
  const total = fileSize(s, file);
  const modeStr = `0${(opts.mode ?? 0o755).toString(8)}`;
  const argv = ["sh", "-c", uploadScript, "sh", remotePath, opts.sha256.toLowerCase(), modeStr, ...how];
  const shown = `uploading ${file} to ${remotePath}`;
  let bytesSent = 0;
  let localError: Error | undefined;
  const src = createReadStream(file);
  const stream: Readable = comp ?? src;
  if (comp) src.on("error", (e) => comp.destroy(e));
  // Progress counts the file's bytes the compressor has taken: with the channel's
  // backpressure that is what is on the wire, give or take the compressor's buffer.
  let read = 0;
  let reported = -1;
  let lastReport = 0;
  const report = (final: boolean) => {
    if (!opts.onProgress) return;
    const now = performance.now();
    const sent = final ? total : Math.min(read, total - 1);
    if (sent <= reported || (!final && now - lastReport < PROGRESS_EVERY_MS)) return;
    reported = sent;
    lastReport = now;
    opts.onProgress(sent, total);
  };
  stream.on("error", () => {}); // read by the loop below, or dropped if the channel never opens
  const out = await s.run(s.commandLine(argv), shown, {}, async (ch, isClosed) => {
    if (comp) src.pipe(comp);
    // After pipe: a "data" listener alone would start the flow before the compressor is attached.
    if (opts.onProgress) src.on("data", (chunk) => (read += chunk.length));
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        if (isClosed()) break;
        const more = ch.write(chunk);
        bytesSent += chunk.length;
        report(false);
        if (!more) await drainOrClose(ch);
      }
    } catch (e) {
      localError = e as Error;
      src.destroy();
      ch.close(); // the host sees a truncated stream and installs nothing
      return;
    }
    if (!isClosed()) {
      report(true);
      ch.end();
    }
  }).finally(() => {
    src.destroy();
    comp?.destroy();
  });
  if (localError) throw new OperationError(`${s.label}: cannot upload ${file}: ${localError.message}`);
  // A host that could not apply the patch (an old zstd, a base that is not what the patch was
  // made against) gets the whole file.
  if ((out.code === CANNOT_PATCH_EXIT || out.code === SHA_MISMATCH_EXIT) && how[0] === "zstd-patch") return HOST_CANNOT_PATCH;
  if (out.code === SHA_MISMATCH_EXIT) {
    const got = /got ([0-9a-f]+)/.exec(out.stderr)?.[1] ?? "?";
    throw new RemoteError(
      s.label,
      `${shown}: sha256 on the host is ${got}, expected ${opts.sha256}; nothing was installed at ${remotePath}`,
      { code: out.code },
    );
  }
  if (out.code !== 0) {
    throw new RemoteError(s.label, `${shown} failed${exitText(out)}; nothing was installed at ${remotePath}`, {
      code: out.code,
      stderr: out.stderr,
    });
  }
  return bytesSent;
}

/** Bun 1.4 (like Node 22.15+) has zstd streams; @types/node here does not declare them yet. */
function createZstd(): Transform {
  const make = (zlib as unknown as { createZstdCompress?: () => Transform }).createZstdCompress;
  if (!make) throw new OperationError("this runtime has no zstd compressor; use compression = \"gzip\"");
  return make();
}

function exitText(out: ChannelOutcome): string {
  return out.code === null ? ` (killed by ${out.signal ?? "a signal"})` : ` (exit ${out.code})`;
}

function drainOrClose(ch: ClientChannel): Promise<void> {
  return new Promise((res) => {
    const done = () => {
      ch.off("drain", done);
      ch.off("close", done);
      res();
    };
    ch.on("drain", done);
    ch.on("close", done);
  });
}
