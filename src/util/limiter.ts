/**
 * At most `max` tasks at once, the others waiting first come first served: what keeps a push
 * to a thousand hosts from opening a thousand SSH handshakes, or uploads, at the same moment
 * (src/ops/sessions.ts, src/ops/execute.ts). Like ../remote/channel-limiter.ts, which counts
 * the channels of one connection, with the task wrapped so a slot is always given back.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`Limiter: max must be an integer >= 1, not ${max}`);
  }

  /** Runs task once a slot is free; the slot is given back however the task ends. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.max) this.active++;
    else await new Promise<void>((res) => this.waiting.push(res));
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /** Gives a slot back: to the first waiter, else to the pool. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

/** Promise.allSettled over items, at most `max` of f running at once, started in the items' order. */
export function settleLimited<I, T>(items: readonly I[], max: number, f: (item: I, index: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  const limiter = new Limiter(max);
  return Promise.allSettled(items.map((item, i) => limiter.run(() => f(item, i))));
}
