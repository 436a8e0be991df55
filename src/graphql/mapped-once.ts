/** The models built from one shared list, and the key (project, environment...) they were built for. */
interface Mapped {
  key: string;
  models: readonly unknown[];
}

const mappedLists = new WeakMap<readonly unknown[], Mapped>();

function freeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) freeze(member);
  }
  return value;
}

/**
 * The GraphQL models of a lookup list, built once per loaded list rather than once per request and field.
 * The lookups (environments, pipeline catalogs) are read as one deep-frozen value per load, shared by every
 * reader until it is reloaded; mapping it (node ids are base64 of each item's parts) was repeated for every
 * field of every request, and a nested read maps a catalog per environment. A list that is not frozen (not
 * a shared lookup value) is mapped on every call, as before. The models are frozen too: they are shared by
 * every request, and nothing downstream may change them.
 */
export function mappedOnce<T, U>(items: readonly T[], key: string, map: (item: T) => U): readonly U[] {
  if (!Object.isFrozen(items)) return items.map(map);
  const known = mappedLists.get(items);
  // The same list under another key (one shared empty list, say) maps again rather than answer wrongly.
  if (known?.key === key) return known.models as readonly U[];
  const models = freeze(items.map(map));
  mappedLists.set(items, { key, models });
  return models;
}
