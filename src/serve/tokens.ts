/**
 * The server's API tokens: `qdeploy serve token add NAME --role deploy` makes one and shows it
 * once; the file keeps only its argon2id hash (Bun.password), mode 0600, outside the repo.
 * A token reads `qdp_ID_SECRET`: ID finds the entry, SECRET is checked against its hash.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { AuthError, OperationError, UsageError } from "../errors.ts";
import { configDir } from "../util/dirs.ts";

/** read: look (status, releases, logs, audit); deploy: also push, rollback, restart. */
export type Role = "read" | "deploy";
export const ROLES: readonly Role[] = ["read", "deploy"];

export interface TokenEntry {
  id: string;
  name: string;
  role: Role;
  /** argon2id of the SECRET part. */
  hash: string;
  created: string;
  /** ISO time after which it no longer works; null: never. */
  expires: string | null;
}

/** Where tokens are kept: $QDEPLOY_SERVE_TOKENS, else serve-tokens/APP.json in qdeploy's config folder (src/util/dirs.ts). */
export function defaultTokenFile(app: string, environ: Record<string, string | undefined> = process.env): string {
  if (environ.QDEPLOY_SERVE_TOKENS) return environ.QDEPLOY_SERVE_TOKENS;
  return path.join(configDir(environ), "serve-tokens", `${app}.json`);
}

/** A verification stays good this long in memory, so a dashboard's requests do not each pay argon2id. */
const CACHE_MS = 60_000;
/**
 * Failed checks of one token id allowed per window; past them, that id's tokens not verified
 * before are refused without a check until the window ends. Each argon2id check costs 64 MiB
 * and tens of milliseconds, and a token's id is no secret (it names the token in logs).
 */
const FAIL_LIMIT = 5;
const FAIL_WINDOW_MS = 60_000;

/** The token file: add, list, remove, verify. */
export class TokenStore {
  private readonly verified = new Map<string, { id: string; until: number }>();
  /** sha256 of a token whose check failed -> until when it is refused from memory. */
  private readonly failed = new Map<string, number>();
  /** Token id -> its failed checks in the window that ends at `until`. */
  private readonly failures = new Map<string, { count: number; until: number }>();
  /** Token id -> the end of the check running for it: checks of one id run one at a time. */
  private readonly checking = new Map<string, Promise<void>>();

  constructor(readonly file: string, private readonly now: () => Date = () => new Date()) {}

  /** Makes a token; returns it (the only time it is seen) and its entry. */
  async add(name: string, role: Role, opts: { expiresSec?: number } = {}): Promise<{ token: string; entry: TokenEntry }> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(name)) throw new UsageError(`token name "${name}": use letters, digits, . _ @ - (at most 64)`);
    if (!ROLES.includes(role)) throw new UsageError(`--role must be ${ROLES.join(" or ")}, not "${role}"`);
    const entries = await this.list();
    if (entries.some((e) => e.name === name)) throw new OperationError(`a token named "${name}" exists; remove it first (qdeploy serve token remove ${name})`);
    const id = randomBytes(4).toString("hex");
    const secret = randomBytes(32).toString("base64url");
    const created = this.now();
    const entry: TokenEntry = {
      id,
      name,
      role,
      hash: await Bun.password.hash(secret, { algorithm: "argon2id" }),
      created: created.toISOString(),
      expires: opts.expiresSec ? new Date(created.getTime() + opts.expiresSec * 1000).toISOString() : null,
    };
    await this.save([...entries, entry]);
    return { token: `qdp_${id}_${secret}`, entry };
  }

  /** Every entry (hashes included: callers show names, roles and dates only). */
  async list(): Promise<TokenEntry[]> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
    try {
      return (JSON.parse(text) as { tokens: TokenEntry[] }).tokens;
    } catch {
      throw new OperationError(`${this.file} is not a token file (JSON with "tokens"); move it away and add the tokens again`);
    }
  }

  /** Removes the token of that name; false if there was none. */
  async remove(name: string): Promise<boolean> {
    const entries = await this.list();
    const kept = entries.filter((e) => e.name !== name);
    if (kept.length === entries.length) return false;
    await this.save(kept);
    this.verified.clear();
    return true;
  }

  /** The entry of a presented token; AuthError("unauthorized") if it is unknown, wrong or expired. */
  async verify(token: string): Promise<TokenEntry> {
    const m = /^qdp_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) throw new AuthError("unauthorized", "not a qdeploy token (qdp_...)");
    const entry = (await this.list()).find((e) => e.id === m[1]);
    if (!entry) throw new AuthError("unauthorized", "unknown token");
    const key = createHash("sha256").update(token).digest("hex");
    if (!this.knownGood(key, entry.id)) await this.check(entry, m[2]!, key);
    if (entry.expires && Date.parse(entry.expires) <= this.now().getTime()) {
      throw new AuthError("unauthorized", `token "${entry.name}" expired at ${entry.expires}`);
    }
    return entry;
  }

  private knownGood(key: string, id: string): boolean {
    const cached = this.verified.get(key);
    return Boolean(cached && cached.id === id && cached.until > Date.now());
  }

  /**
   * The argon2id check of `secret` against `entry`, unless memory already answers: a token
   * that failed before, or an id past FAIL_LIMIT failures. Checks of one id wait for each
   * other, so a flood of bad attempts holds one check's memory, not one per request, and
   * those that waited see the limit reached and cost nothing.
   */
  private async check(entry: TokenEntry, secret: string, key: string): Promise<void> {
    const before = this.checking.get(entry.id);
    let done = () => {};
    const mine = new Promise<void>((resolve) => (done = resolve));
    this.checking.set(entry.id, mine);
    try {
      await before;
      if (this.knownGood(key, entry.id)) return; // the same token, checked while this one waited
      const now = this.now().getTime();
      if ((this.failed.get(key) ?? 0) > now) throw new AuthError("unauthorized", "unknown token");
      const f = this.failures.get(entry.id);
      if (f && f.until > now && f.count >= FAIL_LIMIT) {
        throw new AuthError("unauthorized", `too many failed attempts with token id ${entry.id}: refused without a check until ${new Date(f.until).toISOString()}`);
      }
      if (await Bun.password.verify(secret, entry.hash)) {
        this.verified.set(key, { id: entry.id, until: Date.now() + CACHE_MS });
        return;
      }
      this.failures.set(entry.id, f && f.until > now ? { count: f.count + 1, until: f.until } : { count: 1, until: now + FAIL_WINDOW_MS });
      for (const [k, until] of this.failed) if (until <= now) this.failed.delete(k);
      this.failed.set(key, now + FAIL_WINDOW_MS);
      throw new AuthError("unauthorized", "unknown token");
    } finally {
      done();
      if (this.checking.get(entry.id) === mine) this.checking.delete(entry.id);
    }
  }

  /** Writes the file whole (temp file, then rename), 0600 in a 0700 folder. */
  private async save(entries: TokenEntry[]): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}`;
    await writeFile(tmp, `${JSON.stringify({ tokens: entries }, null, 2)}\n`, { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.file);
  }
}
