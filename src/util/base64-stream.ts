/**
 * Base64 text arriving in chunks (a command's stdout over SSH), decoded as it comes in whole
 * 4-character groups: what crosses a text channel whole, without waiting for its end.
 */
export function base64Stream(onBytes: (bytes: Buffer) => void): { write(chunk: string): void; end(): void } {
  let rest = "";
  return {
    write(chunk) {
      const text = rest + chunk.replace(/\s+/g, "");
      const whole = text.length - (text.length % 4);
      rest = text.slice(whole);
      if (whole) onBytes(Buffer.from(text.slice(0, whole), "base64"));
    },
    end() {
      if (rest) onBytes(Buffer.from(rest, "base64"));
      rest = "";
    },
  };
}
