/**
 * Answers declared immutable (deep-frozen, shared by every request that reads the same cached value) and
 * their JSON, worked out once per answer object: the edge writes the same bytes `JSON.stringify` gives,
 * without walking and encoding the same frozen page on every request (ADR 0040). Only objects passed to
 * `immutableAnswer` are remembered, weakly: an answer is forgotten with the cache entry it came from, and a
 * new entry (a reload, an invalidation) is a new object, so the JSON is exactly as fresh as the cache.
 */
const answers = new WeakMap<object, string | null>();

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
  if (known !== null) return known;
  const json = JSON.stringify(answer);
  answers.set(answer, json);
  return json;
}
