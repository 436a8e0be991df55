import type { Page } from '../../maia/maia.types';

export const DEFAULT_PAGE_SIZE = 25;
export const MAX_PAGE_SIZE = 100;
/** Far beyond any real list; keeps `page * size` arithmetic sane. */
export const MAX_PAGE = 100_000;

/** One page of a fully loaded list, with Maia's page shape and true numbers. */
export function slicePage<T>(items: readonly T[], page = 0, size = DEFAULT_PAGE_SIZE): Page<T> {
  const start = page * size;
  return { page, size, total: items.length, results: items.slice(start, start + size) };
}
