/**
 * Webhook deliveries already handled, by id (X-GitHub-Delivery, X-Qdeploy-Delivery): a
 * replay of one is ignored. The last KEEP ids are kept in memory and in a file, so a
 * restarted server still ignores them.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { UsageError } from "../errors.ts";

const KEEP = 1000;
const ID = /^[A-Za-z0-9._:-]{1,128}$/;
// (A body's key, body-SHA256HEX, is 69 characters: within the same pattern.)

export class DeliveryLog {
  private ids: string[] | null = null;
  private saving: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  /** Records the ids (a delivery's id, its body's hash); false if any was seen before (a replay). */
  async claim(keys: string[]): Promise<boolean> {
    for (const k of keys) if (!ID.test(k)) throw new UsageError(`delivery id "${k.slice(0, 40)}": letters, digits, . _ : - (at most 128)`);
    const ids = await this.load();
    if (keys.some((k) => ids.includes(k))) return false;
    ids.push(...keys);
    if (ids.length > KEEP) ids.splice(0, ids.length - KEEP);
    try {
      await this.save();
    } catch (e) {
      // Not written, not claimed: the delivery may come again.
      for (const k of keys) ids.splice(ids.lastIndexOf(k), 1);
      throw e;
    }
    return true;
  }

  private async load(): Promise<string[]> {
    if (this.ids) return this.ids;
    const text = await readFile(this.file, "utf8").catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? "" : Promise.reject(e)));
    this.ids ??= text.split("\n").filter((l) => ID.test(l));
    return this.ids;
  }

  /** The whole list, through a temp file and a rename; one write at a time. */
  private save(): Promise<void> {
    const text = `${this.ids!.join("\n")}\n`;
    // After a failed write the next one is tried afresh (the chain does not stay rejected).
    this.saving = this.saving.catch(() => {}).then(async () => {
      await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      await writeFile(`${this.file}.tmp`, text, { mode: 0o600 });
      await rename(`${this.file}.tmp`, this.file);
    });
    return this.saving;
  }
}
