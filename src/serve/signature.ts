/** Webhook signatures: `sha256=HEX`, HMAC-SHA256 of the raw body, as GitHub's X-Hub-Signature-256. */
import { createHmac, timingSafeEqual } from "node:crypto";

/** The signature header's value for this body. */
export function sign(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** A signature header's form. */
export const SIGNATURE = /^sha256=[0-9a-f]{64}$/i;

/** Whether `header` is this body's signature with this secret; constant time in the signature's bytes. */
export function verifySignature(secret: string, body: string | Uint8Array, header: string | undefined): boolean {
  if (!header || !SIGNATURE.test(header)) return false;
  const want = Buffer.from(sign(secret, body).slice(7), "hex");
  const got = Buffer.from(header.slice(7), "hex");
  return got.length === want.length && timingSafeEqual(got, want);
}
