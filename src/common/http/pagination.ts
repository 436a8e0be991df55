export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;
/** Far beyond any real list; keeps `page * size` arithmetic sane. */
export const MAX_PAGE = 100_000;

/**
 * One page of a list as the gateway serves it (REST and GraphQL alike). It has the same members as Maia's
 * page-based lists, so the REST face stays wire-compatible, but it is the domain's type: the Maia client
 * maps its wire pages to it.
 */
export interface Page<T> {
  /** 0-based. */
  page: number;
  size: number;
  /** Items over all pages. */
  total: number;
  results: T[];
}

/** One page of a fully loaded list, with true numbers. */
export function slicePage<T>(items: readonly T[], page = 0, size = DEFAULT_PAGE_SIZE): Page<T> {
  const start = page * size;
  return { page, size, total: items.length, results: items.slice(start, start + size) };
}

export function mapPage<T, U>(page: Page<T>, map: (item: T) => U): Page<U> {
  return { page: page.page, size: page.size, total: page.total, results: page.results.map(map) };
}
