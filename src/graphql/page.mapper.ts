import type { Page } from '../maia/maia.types';

export function mapPage<T, U>(page: Page<T>, map: (item: T) => U): Page<U> {
  return { page: page.page, size: page.size, total: page.total, results: page.results.map(map) };
}
