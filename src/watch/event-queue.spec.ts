import { EventQueue } from './event-queue';

describe('EventQueue', () => {
  it('hands pushed values to the consumer in order, buffered or awaited', async () => {
    const queue = new EventQueue<number>();
    queue.push(1);
    const pending = queue.next();
    expect(await pending).toEqual({ value: 1, done: false });
    const awaited = queue.next();
    queue.push(2);
    expect(await awaited).toEqual({ value: 2, done: false });
  });

  it('delivers what is buffered before the end or the error, and releases once, at once', async () => {
    let closed = 0;
    const queue = new EventQueue<number>(() => (closed += 1));
    queue.push(1);
    queue.fail(new Error('boom'));
    expect(closed).toBe(1);
    queue.push(2); // ignored: the stream is over
    expect(await queue.next()).toEqual({ value: 1, done: false });
    await expect(queue.next()).rejects.toThrow('boom');
    expect(await queue.next()).toEqual({ value: undefined, done: true });
    await queue.return();
    expect(closed).toBe(1);
  });

  it('return() ends a pending next() and drops the buffer', async () => {
    let closed = 0;
    const queue = new EventQueue<number>(() => (closed += 1));
    const pending = queue.next();
    await queue.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    queue.push(3);
    expect(await queue.next()).toEqual({ value: undefined, done: true });
    expect(closed).toBe(1);
  });

  it('works with for-await, ending after end()', async () => {
    const queue = new EventQueue<string>();
    queue.push('a');
    queue.push('b');
    queue.end();
    const seen: string[] = [];
    for await (const value of queue) seen.push(value);
    expect(seen).toEqual(['a', 'b']);
  });
});
