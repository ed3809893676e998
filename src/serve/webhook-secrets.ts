/**
 * Each environment's webhook secret, as /hooks checks signatures with it. Anyone can send a
 * webhook request, and a well-formed signature (sha256=000...) cannot be told from a good one
 * without the secret, so the store (an age decryption, or secrets.command) must not be read per
 * request: a secret read is kept for SECRET_TTL_MS, and requests that come while it is read share
 * that one read. A read that fails (or finds no secret) is kept too, FAILED_TTL_MS, so a broken
 * store is not run per request either. Why it failed goes to the server's log only: the sender is
 * nobody yet, and the reason may name internal hosts (a vault URL in the command's stderr).
 */
import { errorBody } from "../errors.ts";

/** How long a secret read is used; a changed secret is picked up within this. */
export const SECRET_TTL_MS = 60_000;
/** How long a failed read (or a store without the secret) stands before the store is asked again. */
export const FAILED_TTL_MS = 10_000;

interface Entry {
  /** When the entry is stale (ms); Infinity while its read runs. */
  until: number;
  secret: Promise<string | undefined>;
}

export class WebhookSecrets {
  private readonly cache = new Map<string, Entry>();

  /**
   * `read(env)` gets the secret from the store (undefined: not in it); `log` is the server's
   * own log; `name` is the secret's name ([serve] webhook_secret), for the log.
   */
  constructor(
    private readonly read: (env: string) => Promise<string | undefined>,
    private readonly o: { name: string; now: () => number; log: (line: string) => void },
  ) {}

  /** The environment's secret, or undefined when its store has none or cannot be read (logged, once per FAILED_TTL_MS). */
  get(env: string): Promise<string | undefined> {
    const hit = this.cache.get(env);
    if (hit && this.o.now() < hit.until) return hit.secret;
    const entry: Entry = { until: Number.POSITIVE_INFINITY, secret: Promise.resolve(undefined) };
    entry.secret = this.read(env).then(
      (secret) => {
        if (secret) {
          entry.until = this.o.now() + SECRET_TTL_MS;
          return secret;
        }
        entry.until = this.o.now() + FAILED_TTL_MS;
        this.o.log(`webhooks: the secret store of ${env} has no ${this.o.name}: qdeploy secrets set ${env} ${this.o.name}`);
        return undefined;
      },
      (e: unknown) => {
        entry.until = this.o.now() + FAILED_TTL_MS;
        // The stores redact secret values from what they report (src/secrets/redact.ts).
        this.o.log(`webhooks: the secret store of ${env} cannot be read: ${errorBody(e).message}`);
        return undefined;
      },
    );
    this.cache.set(env, entry);
    return entry.secret;
  }
}
