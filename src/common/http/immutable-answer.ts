/**
 * Answers declared immutable (deep-frozen, shared by every request that reads the same cached value) and
 * their JSON, worked out once per answer object: the edge writes the same bytes `JSON.stringify` gives,
 * without walking and encoding the same frozen page on every request (ADR 0040). Only objects passed to
 * `immutableAnswer` are remembered, weakly: an answer is forgotten with the cache entry it came from, and a
 * new entry (a reload, an invalidation) is a new object, so the JSON is exactly as fresh as the cache.
 */
const answers = new WeakMap<object, Encoded | null>();

/** An immutable answer's JSON and that JSON's length in UTF-8 bytes (its `content-length`). */
interface Encoded {
  readonly json: string;
  readonly bytes: number;
}

function deepFreeze(value: unknown): void {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
}

/**
 * Declares `answer` immutable (deep-freezes what is not frozen yet) and returns it. For answers built once
 * per cached value and handed to every request that reads it; never for one built per request (it would
 * be remembered for nothing).
 */
export function immutableAnswer<T extends object>(answer: T): T {
  if (!answers.has(answer)) {
    // Frozen members are assumed deep-frozen (the cache's read-only values are): they are not walked.
    deepFreeze(answer);
    answers.set(answer, null);
  }
  return answer;
}

/** `JSON.stringify(answer)`; for an answer declared immutable, computed on its first use only. */
export function answerJson(answer: unknown): string {
  if (answer === null || typeof answer !== 'object') return JSON.stringify(answer);
  const known = answers.get(answer);
  if (known === undefined) return JSON.stringify(answer);
  if (known !== null) return known.json;
  const json = JSON.stringify(answer) as string | undefined;
  // A `toJSON` that answers undefined: nothing to remember (and no length to count).
  if (typeof json === 'string') answers.set(answer, { json, bytes: Buffer.byteLength(json) });
  return json as string;
}

/**
 * `Buffer.byteLength(json)`, where `json` is `answerJson(answer)`: for an answer declared immutable, the
 * length worked out with its JSON (counting the UTF-8 bytes of a page walks all of it, ~0.5 µs for 3 KB).
 */
export function answerByteLength(answer: unknown, json: string): number {
  if (answer !== null && typeof answer === 'object') {
    const known = answers.get(answer);
    if (known != null && known.json === json) return known.bytes;
  }
  return Buffer.byteLength(json);
}
