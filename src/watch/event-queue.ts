/**
 * A push-to-pull bridge: producers push, one consumer iterates. Used as the async iterator behind every
 * subscription (GraphQL, SSE, long-poll). `onClose` runs exactly once, as soon as the stream is over for
 * whichever reason (ended, failed, or the consumer returned), so listeners are released without waiting
 * for the consumer to drain what is buffered.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  private ended = false;
  private failure: { error: unknown } | null = null;
  private closed = false;

  constructor(private readonly onClose: () => void = () => undefined) {}

  /** True once nothing more will be pushed. */
  get isClosed(): boolean {
    return this.closed;
  }

  push(value: T): void {
    if (this.ended) return;
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = null;
      resolve({ value, done: false });
    } else {
      this.buffer.push(value);
    }
  }

  /** No more values: the consumer gets what is buffered, then the end. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.settleWaiter();
    this.close();
  }

  /** The consumer gets what is buffered, then this error. */
  fail(error: unknown): void {
    if (this.ended) return;
    this.failure = { error };
    this.ended = true;
    this.settleWaiter();
    this.close();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) return Promise.resolve({ value: this.buffer.shift() as T, done: false });
    if (this.failure) {
      const { error } = this.failure;
      this.failure = null;
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** The consumer is done (unsubscribe, disconnect): drop everything and release. */
  return(): Promise<IteratorResult<T>> {
    this.buffer.length = 0;
    this.failure = null;
    this.ended = true;
    this.settleWaiter();
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    void error;
    return this.return();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private settleWaiter(): void {
    if (!this.waiter) return;
    const { resolve, reject } = this.waiter;
    this.waiter = null;
    if (this.failure) {
      const { error } = this.failure;
      this.failure = null;
      reject(error instanceof Error ? error : new Error(String(error)));
    } else {
      resolve({ value: undefined, done: true });
    }
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }
}
