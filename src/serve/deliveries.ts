/**
 * Webhook deliveries already handled: a replay of one is refused. A delivery is its keys (its
 * id, its body's hash) and when it came. Every delivery of the last REMEMBER_MS is remembered,
 * and at least the last KEEP whatever their age, in memory and in a file, so a restarted server
 * still knows them. A delivery that carries its own signed time (GitHub's pushed_at, the deploy
 * hook's "time") is accepted only within MAX_AGE_MS of it (checkSentAt), which is shorter than
 * REMEMBER_MS: such a delivery is still remembered as long as it can be accepted, however many
 * came after it.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { ReplayError, UsageError } from "../errors.ts";

/** At least this many of the last deliveries are remembered, whatever their age. */
export const KEEP = 1000;
/** Every delivery younger than this is remembered, however many came after it. */
export const REMEMBER_MS = 24 * 3600_000;
/** A delivery whose signed time is older than this is refused. */
export const MAX_AGE_MS = 3600_000;
/** ...or further ahead of this server's clock than this (a clock a little off is fine). */
export const MAX_AHEAD_MS = 5 * 60_000;

const ID = /^[A-Za-z0-9._:-]{1,128}$/;
// (A body's key, body-SHA256HEX, is 69 characters: within the same pattern.)

/** One handled delivery: when it came (ms) and its keys. */
interface Delivery {
  at: number;
  keys: string[];
}

/** A ReplayError if a delivery sent at `sentMs` is too old, or too far ahead, to tell from a replay. */
export function checkSentAt(id: string, sentMs: number, nowMs: number): void {
  // A time past the year 275760 has no ISO form: it is shown as sent.
  const date = new Date(sentMs);
  const at = Number.isNaN(date.getTime()) ? `${sentMs / 1000} (Unix seconds)` : date.toISOString().replace(/\.\d+Z$/, "Z");
  if (nowMs - sentMs > MAX_AGE_MS) throw new ReplayError(`delivery ${id} was sent at ${at}, more than 1 hour ago: refused as a possible replay`);
  // One far ahead would stay "fresh" after the log forgot it.
  if (sentMs - nowMs > MAX_AHEAD_MS) throw new ReplayError(`delivery ${id} was sent at ${at}, more than 5 minutes ahead of this server's clock: refused as a possible replay`);
}

export class DeliveryLog {
  private deliveries: Delivery[] | null = null;
  private readonly seen = new Set<string>();
  private saving: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records one delivery's keys (its id, its body's hash); false if any was seen before (a replay). */
  async claim(keys: string[]): Promise<boolean> {
    for (const k of keys) if (!ID.test(k)) throw new UsageError(`delivery id "${k.slice(0, 40)}": letters, digits, . _ : - (at most 128)`);
    const deliveries = await this.load();
    // From here to the push nothing awaits: two requests with one id cannot both pass.
    if (keys.some((k) => this.seen.has(k))) return false;
    const d: Delivery = { at: this.now(), keys };
    deliveries.push(d);
    for (const k of keys) this.seen.add(k);
    this.forget();
    try {
      await this.save();
    } catch (e) {
      // Not written, not claimed: the delivery may come again.
      deliveries.splice(deliveries.indexOf(d), 1);
      for (const k of keys) this.seen.delete(k);
      throw e;
    }
    return true;
  }

  /** Drops the oldest deliveries that are both beyond the last KEEP and older than REMEMBER_MS. */
  private forget(): void {
    const deliveries = this.deliveries!;
    const now = this.now();
    while (deliveries.length > KEEP && now - deliveries[0]!.at > REMEMBER_MS) {
      for (const k of deliveries.shift()!.keys) this.seen.delete(k);
    }
  }

  /** The file: a line per delivery, `AT_MS KEY...`. A line of one bare key (a file from before times were kept) counts as seen now. */
  private async load(): Promise<Delivery[]> {
    if (this.deliveries) return this.deliveries;
    const text = await readFile(this.file, "utf8").catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? "" : Promise.reject(e)));
    if (this.deliveries) return this.deliveries; // another claim loaded it meanwhile
    const now = this.now();
    const deliveries: Delivery[] = [];
    for (const line of text.split("\n")) {
      const words = line.split(" ");
      const timed = words.length > 1 && /^\d+$/.test(words[0]!);
      const d = timed ? { at: Number(words[0]), keys: words.slice(1) } : { at: now, keys: words };
      if (!d.keys.every((k) => ID.test(k))) continue;
      deliveries.push(d);
      for (const k of d.keys) this.seen.add(k);
    }
    this.deliveries = deliveries;
    return deliveries;
  }

  /** The whole list, through a temp file and a rename; one write at a time. */
  private save(): Promise<void> {
    const text = this.deliveries!.map((d) => `${d.at} ${d.keys.join(" ")}\n`).join("");
    // After a failed write the next one is tried afresh (the chain does not stay rejected).
    this.saving = this.saving.catch(() => {}).then(async () => {
      await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      await writeFile(`${this.file}.tmp`, text, { mode: 0o600 });
      await rename(`${this.file}.tmp`, this.file);
    });
    return this.saving;
  }
}
