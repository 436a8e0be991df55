import { executionEventKinds, type ExecutionEventKind, type StoredEvent } from './watch.types';

/** What replicas tell each other on a topic's channel (`watch:<topic>`). */
export type TopicMessage =
  | { type: 'event'; event: StoredEvent }
  | { type: 'error'; code: string; message: string }
  /** Poll soon (a cancel was requested somewhere). */
  | { type: 'nudge' }
  /** The leader let go of the lease: whoever still has subscribers takes over now. */
  | { type: 'released' };

export function topicChannelName(topic: string): string {
  return `watch:${topic}`;
}

export function encodeTopicMessage(message: TopicMessage): string {
  return JSON.stringify(message);
}

/**
 * The message, or null when it is not one. Also reads the letter-keyed form that replicas before the
 * rename send (`{t, e: {seq, …}}`), so a new replica understands an old leader during a rolling deploy.
 */
export function decodeTopicMessage(raw: string): TopicMessage | null {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  switch (parsed.type ?? parsed.t) {
    case 'event': {
      const event = parsed.type === undefined ? fromLetterKeyed(parsed.e) : parsed.event;
      return isStoredEvent(event) ? { type: 'event', event } : null;
    }
    case 'error':
      if (typeof parsed.code !== 'string' || typeof parsed.message !== 'string') return null;
      return { type: 'error', code: parsed.code, message: parsed.message };
    case 'nudge':
      return { type: 'nudge' };
    case 'released':
      return { type: 'released' };
    default:
      return null;
  }
}

function fromLetterKeyed(event: unknown): unknown {
  if (typeof event !== 'object' || event === null) return event;
  const { seq, ...rest } = event as { seq?: unknown };
  return { sequence: seq, ...rest };
}

function isStoredEvent(value: unknown): value is StoredEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Partial<StoredEvent>;
  return (
    Number.isSafeInteger(event.sequence) &&
    typeof event.at === 'string' &&
    executionEventKinds.includes(event.kind as ExecutionEventKind) &&
    typeof event.execution === 'object' &&
    event.execution !== null
  );
}
