/**
 * How many channels one SSH connection has open at once: every exec, write, upload and
 * terminal session is a channel, and sshd refuses channels past its limit.
 */

/** sshd's MaxSessions defaults to 10 channels per connection; stay below it (more wait for one to close). */
export const MAX_CHANNELS = 8;

/** The channels in use on one connection, and the callers waiting for one, first come first served. */
export class ChannelLimiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  /**
   * Waits for a free channel and takes it: true. False, holding none, when `signal` was
   * aborted before or during the wait; release() is then not called.
   */
  async acquire(signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return false;
    if (this.active < MAX_CHANNELS) this.active++;
    else await new Promise<void>((res) => this.waiting.push(res));
    // Aborted while it waited for a channel (a log stream's client left): never start it, or
    // a `journalctl -f` nobody reads would hold that channel for good.
    if (signal?.aborted) {
      this.release();
      return false;
    }
    return true;
  }

  /** Gives a channel back: to the first waiter, else to the pool. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}
