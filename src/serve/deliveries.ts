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

export class DeliveryLog {
  private ids: string[] | null = null;
  private saving: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  /** Records the id; false if it was seen before (a replay). */
  async claim(id: string): Promise<boolean> {
    if (!ID.test(id)) throw new UsageError(`delivery id "${id.slice(0, 40)}": letters, digits, . _ : - (at most 128)`);
    const ids = await this.load();
    if (ids.includes(id)) return false;
    ids.push(id);
    if (ids.length > KEEP) ids.splice(0, ids.length - KEEP);
    await this.save();
    return true;
  }

  /** Forgets the id: its deploy never started (the lock was held), so a redelivery may try again. */
  async release(id: string): Promise<void> {
    const ids = await this.load();
    const i = ids.indexOf(id);
    if (i >= 0) ids.splice(i, 1);
    await this.save();
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
    this.saving = this.saving.then(async () => {
      await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      await writeFile(`${this.file}.tmp`, text, { mode: 0o600 });
      await rename(`${this.file}.tmp`, this.file);
    });
    return this.saving;
  }
}
