import pino from 'pino';
import { flushHeldLines, TurnBufferedDestination } from './turn-buffered-destination';

/** A target that records each write it is given. */
function recorder() {
  const writes: string[] = [];
  let syncFlushes = 0;
  return {
    writes,
    syncFlushes: () => syncFlushes,
    target: {
      write: (chunk: string) => {
        writes.push(chunk);
      },
      flushSync: () => {
        syncFlushes += 1;
      },
    },
  };
}

const endOfTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TurnBufferedDestination', () => {
  const made: TurnBufferedDestination[] = [];
  afterEach(() => {
    for (const destination of made.splice(0)) destination.end();
  });
  function destinationOver(target: ConstructorParameters<typeof TurnBufferedDestination>[0]) {
    const destination = new TurnBufferedDestination(target);
    made.push(destination);
    return destination;
  }

  it("writes the lines of one turn together, in order, once the turn's callbacks are done", async () => {
    const { writes, target } = recorder();
    const destination = destinationOver(target);
    destination.write('a\n');
    destination.write('b\n');
    expect(writes).toEqual([]);
    await endOfTurn();
    expect(writes).toEqual(['a\nb\n']);
  });

  it('writes at most every 10 ms while busy, and at the end of the turn again once quiet', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const { writes, target } = recorder();
      const destination = destinationOver(target);
      destination.write('a\n');
      await endOfTurn();
      expect(writes).toEqual(['a\n']);
      // Logged 4 ms after that write: held until 10 ms have passed since it, with what follows.
      jest.advanceTimersByTime(4);
      destination.write('b\n');
      await endOfTurn();
      destination.write('c\n');
      jest.advanceTimersByTime(5);
      expect(writes).toEqual(['a\n']);
      jest.advanceTimersByTime(1);
      expect(writes).toEqual(['a\n', 'b\nc\n']);
      // Quiet for 10 ms: the next line goes out at the end of its own turn.
      jest.advanceTimersByTime(10);
      destination.write('d\n');
      await endOfTurn();
      expect(writes).toEqual(['a\n', 'b\nc\n', 'd\n']);
    } finally {
      jest.useRealTimers();
    }
  });

  it('writes pino lines byte for byte as pino formats them', async () => {
    const { writes, target } = recorder();
    const logger = pino({ base: undefined, timestamp: false }, destinationOver(target));
    logger.info({ n: 1 }, 'first');
    logger.warn('second');
    await endOfTurn();
    expect(writes.join('')).toBe('{"level":30,"n":1,"msg":"first"}\n{"level":40,"msg":"second"}\n');
  });

  it('adds no process listener per destination (an application per test makes one each)', () => {
    const before = process.listenerCount('exit');
    for (let i = 0; i < 20; i += 1) destinationOver(recorder().target).write('x\n');
    expect(process.listenerCount('exit')).toBe(before);
  });

  it('writes at once when much is held, and on flush, flushSync and process exit', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    const { writes, syncFlushes, target } = recorder();
    const destination = destinationOver(target);
    const long = `${'x'.repeat(1023)}\n`;
    for (let i = 0; i < 64; i += 1) destination.write(long);
    expect(writes).toEqual([long.repeat(64)]);

    destination.write('flushed\n');
    const done = jest.fn();
    destination.flush(done);
    expect(writes.at(-1)).toBe('flushed\n');
    expect(done).toHaveBeenCalledWith();

    destination.write('synced\n');
    destination.flushSync();
    expect(writes.at(-1)).toBe('synced\n');
    expect(syncFlushes()).toBe(1);

    destination.write('at exit\n');
    // What the process's exit listener runs (emitting 'exit' would run every listener of the test worker).
    expect(process.listeners('exit')).toContain(flushHeldLines);
    flushHeldLines();
    expect(writes.at(-1)).toBe('at exit\n');
    // Nothing is written twice when the turn ends or the pending 10 ms timer fires.
    const count = writes.length;
    await endOfTurn();
    jest.advanceTimersByTime(20);
    expect(writes).toHaveLength(count);

    // Lines held after a flush, while a timer is pending, come out once, in order, when it fires.
    destination.write('one\n');
    destination.flush();
    destination.write('two\n');
    destination.write('three\n');
    jest.advanceTimersByTime(10);
    await endOfTurn();
    jest.advanceTimersByTime(20);
    expect(writes.slice(count)).toEqual(['one\n', 'two\nthree\n']);
    jest.useRealTimers();
  });
});
