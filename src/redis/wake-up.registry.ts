import { setLongTimeout } from '../common/timers';

/**
 * Callers waiting for news of a subject (e.g. "the load of this key is done"), each waiting at most a
 * given time. `wake` resolves every current waiter of the subject with the news; the timeout resolves one
 * waiter with undefined, so a lost message costs one poll interval, never a hang.
 */
export class WakeUpRegistry<News> {
  private readonly waiters = new Map<string, Set<(news: News | undefined) => void>>();

  /** Resolves with the next news of `subject`, or undefined after `timeoutMs`. */
  next(subject: string, timeoutMs: number): Promise<News | undefined> {
    return new Promise((resolve) => {
      let set = this.waiters.get(subject);
      if (!set) {
        set = new Set();
        this.waiters.set(subject, set);
      }
      const waiters = set;
      const done = (news: News | undefined): void => {
        timer.clear();
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(subject) === waiters) this.waiters.delete(subject);
        resolve(news);
      };
      const timer = setLongTimeout(() => done(undefined), timeoutMs);
      waiters.add(done);
    });
  }

  wake(subject: string, news: News): void {
    for (const done of [...(this.waiters.get(subject) ?? [])]) done(news);
  }

  /** How many callers wait (for tests). */
  get size(): number {
    let count = 0;
    for (const set of this.waiters.values()) count += set.size;
    return count;
  }
}
