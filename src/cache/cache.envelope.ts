/** An entry as both levels store it. */
export interface CacheEnvelope {
  /** The value as JSON text: every reader gets its own copy, and every level answers the same shape. */
  json: string;
  storedAtMs: number;
  freshUntilMs: number;
  /** Until when the entry may be served stale (refresh in the background, or Maia failing). */
  staleUntilMs: number;
  /** The generations it was loaded under (`<all>.<group>`); after an invalidation they no longer match. */
  generation: string;
}

export function isEnvelope(value: unknown): value is CacheEnvelope {
  const e = value as Partial<CacheEnvelope> | null | undefined;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.json === 'string' &&
    typeof e.storedAtMs === 'number' &&
    typeof e.freshUntilMs === 'number' &&
    typeof e.staleUntilMs === 'number' &&
    typeof e.generation === 'string'
  );
}

/** Wraps a loaded value: fresh for `ttlMs`, servable stale until `max(ttlMs, staleMaxAgeMs)`. */
export function envelopeOf(
  value: unknown,
  ttlMs: number,
  staleMaxAgeMs: number,
  generation: string,
): CacheEnvelope {
  const storedAtMs = Date.now();
  return {
    json: JSON.stringify(value ?? null),
    storedAtMs,
    freshUntilMs: storedAtMs + ttlMs,
    staleUntilMs: storedAtMs + Math.max(ttlMs, staleMaxAgeMs),
    generation,
  };
}

/** Whether a waiter started at `sinceMs` may take this entry: fresh, or (for a TTL of 0) stored since. */
export function answersSince(envelope: CacheEnvelope, sinceMs: number): boolean {
  return Date.now() < envelope.freshUntilMs || envelope.storedAtMs >= sinceMs;
}

/**
 * Turns envelopes into values: a parsed copy per reader, or for `readOnly` readers one deep-frozen value
 * per envelope, so a large entry read on every request (the project directory) is parsed once per load.
 */
export class EnvelopeReader {
  private readonly frozenValues = new WeakMap<CacheEnvelope, unknown>();

  read<T>(envelope: CacheEnvelope, readOnly: boolean): T {
    if (!readOnly) return JSON.parse(envelope.json) as T;
    let value = this.frozenValues.get(envelope);
    if (value === undefined) {
      value = deepFreeze(JSON.parse(envelope.json) as unknown);
      this.frozenValues.set(envelope, value);
    }
    return value as T;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
