/**
 * The one interface through which qdeploy touches a host. The real implementation
 * speaks SSH (./ssh-remote.ts, connected by ./ssh.ts); unit tests of planning pass a
 * recording one.
 */

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Sent on the channel's stdin (file contents, secrets): never part of the command line. */
  stdin?: string | Uint8Array;
  /** Called with output as it arrives (logs -f, progress); the result's stdout is then empty. */
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
  /** Throw RemoteError on a non-zero exit (default true). */
  check?: boolean;
  /** Aborting closes the channel (the remote command sees EOF / SIGHUP). */
  signal?: AbortSignal;
  /** Leave stdin open until the channel closes (the deploy lock lives as long as it). */
  keepStdinOpen?: boolean;
}

export interface UploadOptions {
  /** Expected sha256 (hex) of the uncompressed file; checked on the host before the rename. */
  sha256: string;
  mode?: number;
  /** Wire compression; the host must have the decompressor. */
  compression?: "gzip" | "zstd";
  /**
   * How far the upload is: bytes of the local file sent so far (before compression) of its
   * size `total`. Called at most about 10 times a second, increasing, the last call with
   * sent === total once everything is on the wire.
   */
  onProgress?: (sent: number, total: number) => void;
  /**
   * A file the host has (`remote`) whose copy here is `local`, both an older build of this
   * binary: with zstd here and there, the upload goes as a zstd patch against it (kilobytes
   * when little changed), `sent`/`total` then counting the patch's bytes.
   */
  base?: { local: string; remote: string };
}

/** What an upload sent: its bytes on the wire, and whether as a patch against UploadOptions.base. */
export interface UploadResult {
  bytesSent: number;
  patched?: boolean;
}

/** A terminal session (`exec -it`): raw bytes both ways, the window size kept in step. */
export interface ShellOptions {
  /** The pseudo-terminal the host allocates: $TERM and the local window size. */
  pty: { term: string; rows: number; cols: number };
  /** What the user types; its end sends EOF. Paused again when the session ends. */
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  /** Default stdout (under a PTY the host merges stderr into it anyway). */
  stderr?: NodeJS.WritableStream;
  /** Subscribes to the local window's resizes (SIGWINCH); returns the unsubscribe. */
  onResize?: (resize: (rows: number, cols: number) => void) => () => void;
}

export interface Remote {
  /** `user@host[:port]` as written in deploy.toml; prefixes output and errors. */
  readonly label: string;
  /** Runs argv on the host; each word is quoted once, here. */
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Writes a file atomically (temp file + rename) with this mode; content travels on stdin. */
  write(path: string, content: string | Uint8Array, mode: number): Promise<void>;
  /**
   * Sends a local file compressed, checks its sha256 on the host, then renames it to
   * remotePath. An interrupted or corrupt upload never appears at remotePath.
   */
  upload(localPath: string, remotePath: string, opts: UploadOptions): Promise<UploadResult>;
  /**
   * Runs argv on a pseudo-terminal, wired to these streams, until it exits: its exit status
   * (128 + the signal's number if a signal killed it). Absent on Remotes that cannot (tests).
   */
  shell?(argv: string[], opts: ShellOptions): Promise<number>;
  close(): Promise<void>;
  /** False once the connection is closed or lost (a pool drops it then); absent: assume open. */
  isOpen?(): boolean;
}
