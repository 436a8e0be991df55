import type { DestinationStream } from 'pino';

/** A destination pino can write to that also writes synchronously on demand (sonic-boom in sync mode). */
export interface SyncDestination extends DestinationStream {
  flushSync?: () => void;
}

/** Written at once, without waiting for the end of the turn, when the lines held reach this many characters. */
const MAX_HELD_CHARS = 64 * 1024;

/**
 * A busy process writes what it holds at most this often: a write per turn of the event loop cost ~2 µs per
 * request of a REST lookup under load (~5% of its CPU), one every 10 ms costs next to nothing.
 */
const MIN_WRITE_INTERVAL_MS = 10;

/**
 * A destination that holds the lines written and writes them to `target` together, in the order they were
 * written: once the turn's I/O callbacks are done (`setImmediate`) when nothing was written in the last
 * `MIN_WRITE_INTERVAL_MS`, else when that interval is over. Under load a turn answers many requests, and a
 * synchronous `write(2)` per completion line was ~7% of a REST lookup's CPU (ADR 0040), a write per turn
 * still ~5% (ADR 0049). A quiet server still writes each line within the turn that logged it.
 *
 * What can be lost is bounded: the lines of the last 10 ms (plus however late the event loop runs the
 * timer), and only when the process dies without running its `exit` handlers (SIGKILL, a native crash);
 * `process.exit()`, an uncaught exception, and `flush()` / `flushSync()` (pino's `logger.flush()`) write them
 * first. More than `MAX_HELD_CHARS` held are written at once.
 */
export class TurnBufferedDestination implements DestinationStream {
  private held = '';
  private scheduled = false;
  /** When lines were last written (`performance.now()`, monotonic); a busy destination waits out the interval. */
  private lastWriteMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly target: SyncDestination) {}

  write(line: string): void {
    if (this.held === '') holding.add(this);
    this.held += line;
    if (this.held.length >= MAX_HELD_CHARS) {
      this.writeHeld();
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      const waitMs = this.lastWriteMs + MIN_WRITE_INTERVAL_MS - performance.now();
      if (waitMs <= 0) setImmediate(this.endOfTurn);
      // Unref'd: a held line never keeps the process alive (its `exit` listener writes it).
      else setTimeout(this.endOfTurn, waitMs).unref();
    }
  }

  /** Writes what is held now (pino's `logger.flush(cb)` calls this). */
  flush(callback?: (error?: Error) => void): void {
    try {
      this.writeHeld();
    } catch (error) {
      callback?.(error as Error);
      return;
    }
    callback?.();
  }

  /** Writes what is held now and has the target write what it holds. */
  flushSync(): void {
    this.writeHeld();
    this.target.flushSync?.();
  }

  /** No more lines will be written through this destination: writes what is held. */
  end(): void {
    this.writeHeld();
  }

  private readonly endOfTurn = (): void => {
    this.scheduled = false;
    this.writeHeld();
  };

  private writeHeld(): void {
    if (this.held === '') return;
    const lines = this.held;
    this.held = '';
    holding.delete(this);
    this.lastWriteMs = performance.now();
    this.target.write(lines);
  }
}

/**
 * The destinations holding lines now (for one turn at most): one `exit` listener for the process writes
 * them all, however many loggers were made (an application per test, say), and none is kept alive by it.
 */
const holding = new Set<TurnBufferedDestination>();
export function flushHeldLines(): void {
  for (const destination of [...holding]) destination.flushSync();
}
process.on('exit', flushHeldLines);
