import { type ExecutionWatchEvent, type WatchStream } from '../../../src/watch/watch.types';

/** Reads a stream to its end; resolves with the events and the error it ended with, if any. */
export async function collect(
  stream: WatchStream,
  seen: ExecutionWatchEvent[] = [],
): Promise<{ events: ExecutionWatchEvent[]; error: unknown }> {
  try {
    for await (const event of stream) seen.push(event);
    return { events: seen, error: null };
  } catch (error) {
    return { events: seen, error };
  }
}
