import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, slicePage, type Page } from '../common/http/pagination';

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

/** Pages kept per shared list (a client asking for ever other pages only makes them be built again). */
const MAX_PAGES_PER_LIST = 32;
const pagesOf = new WeakMap<readonly unknown[], Map<number, Page<unknown>>>();

/**
 * One page of a list of models, as `slicePage` makes it; for shared (frozen) models, such as `mappedOnce`
 * gives, the same frozen page for the same page and size, built once per list rather than per field and
 * request (a nested read asks for the first page of every project's environments and every environment's
 * pipelines). Other lists, and pages out of the bounds the arguments' validation allows, are sliced anew.
 */
export function pageOnce<T>(models: readonly T[], page = 0, size = DEFAULT_PAGE_SIZE): Page<T> {
  if (
    !Object.isFrozen(models) ||
    !Number.isInteger(page) ||
    !Number.isInteger(size) ||
    page < 0 ||
    size < 0 ||
    size > MAX_PAGE_SIZE
  ) {
    return slicePage(models, page, size);
  }
  const key = page * (MAX_PAGE_SIZE + 1) + size;
  let pages = pagesOf.get(models);
  const known = pages?.get(key);
  if (known) return known as Page<T>;
  if (!pages) {
    pages = new Map();
    pagesOf.set(models, pages);
  } else if (pages.size >= MAX_PAGES_PER_LIST) {
    pages.clear();
  }
  const made = slicePage(models, page, size);
  Object.freeze(made.results);
  pages.set(key, Object.freeze(made));
  return made;
}
