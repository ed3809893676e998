/**
 * The frames between a command and the process that keeps its SSH connection open
 * (./mux-daemon.ts, ./mux-client.ts): one byte of type, four of length (big-endian), the
 * payload. One Unix-socket connection per SSH channel, and one for the connection itself.
 */

/**
 * H hello (JSON: {command, pty?} for a channel, {watch: true} for the connection), R ready,
 * F failed to open (text), O stdout, E stderr, X exit (JSON {code, signal}), C closed,
 * L the connection is lost (text); I stdin, D end of stdin, S signal (name), W window (JSON), K close.
 */
export type FrameType = "H" | "R" | "F" | "O" | "E" | "X" | "C" | "L" | "I" | "D" | "S" | "W" | "K";

export function frame(type: FrameType, payload: string | Uint8Array = ""): Buffer {
  const body = Buffer.from(payload);
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Cuts a byte stream into frames, whatever the chunks' boundaries. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { type: FrameType; body: Buffer }[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: { type: FrameType; body: Buffer }[] = [];
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(1);
      if (this.buf.length < 5 + len) break;
      out.push({ type: this.buf.toString("latin1", 0, 1) as FrameType, body: this.buf.subarray(5, 5 + len) });
      this.buf = this.buf.subarray(5 + len);
    }
    return out;
  }
}
