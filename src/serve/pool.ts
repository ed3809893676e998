/**
 * SSH connections kept open between the server's requests. A new connection costs about
 * half a second (key exchange, auth), which was most of a `GET status`; the server reuses
 * one per host, as many operations at once as the connection's channels allow (ssh2
 * multiplexes them), and closes it after a while unused.
 */
import type { Remote } from "../remote/remote.ts";

interface Entry {
  remote: Promise<Remote>;
  leases: number;
  idle: ReturnType<typeof setTimeout> | null;
}

export class ConnectionPool {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly idleMs = 60_000) {}

  /**
   * A Remote for `key` (host and how it is reached): the open one, else `open()`'s. Its
   * close() gives it back; the connection closes `idleMs` after the last is given back.
   */
  async lease(key: string, open: () => Promise<Remote>): Promise<Remote> {
    let entry = this.entries.get(key);
    // A lost connection is dropped once, by whichever lease sees it first; the others, after
    // their own await, find the entry that one made (else several would open and leak).
    while (entry && !(await entry.remote.then((r) => r.isOpen?.() ?? true, () => false))) {
      if (this.entries.get(key) === entry) {
        this.entries.delete(key);
        void entry.remote.then((r) => r.close()).catch(() => {});
      }
      entry = this.entries.get(key);
    }
    if (!entry) {
      entry = { remote: open(), leases: 0, idle: null };
      this.entries.set(key, entry);
      // A connection that fails to open is not kept: the next request tries afresh.
      entry.remote.catch(() => this.entries.get(key) === entry && this.entries.delete(key));
    }
    const e = entry;
    const remote = await e.remote;
    e.leases++;
    if (e.idle) clearTimeout(e.idle);
    e.idle = null;
    let given = false;
    return {
      label: remote.label,
      exec: (argv, opts) => remote.exec(argv, opts),
      write: (path, content, mode) => remote.write(path, content, mode),
      upload: (local, path, opts) => remote.upload(local, path, opts),
      isOpen: () => remote.isOpen?.() ?? true,
      close: async () => {
        if (given) return;
        given = true;
        if (--e.leases > 0) return;
        e.idle = setTimeout(() => {
          if (this.entries.get(key) === e && e.leases === 0) {
            this.entries.delete(key);
            void remote.close();
          }
        }, this.idleMs);
      },
    };
  }

  /** How many connections are kept (open or opening). */
  get size(): number {
    return this.entries.size;
  }

  /** Closes every connection (the server is stopping). */
  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(
      all.map(async (e) => {
        if (e.idle) clearTimeout(e.idle);
        await e.remote.then((r) => r.close(), () => {});
      }),
    );
  }
}
