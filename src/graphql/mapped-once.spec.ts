import { mappedOnce, pageOnce } from './mapped-once';

describe('mappedOnce', () => {
  const toModel = (name: string) => ({ id: `id:${name}`, name });

  it('builds the models of a shared (frozen) list once, and hands every reader the same frozen models', () => {
    const list = Object.freeze(['a', 'b']);
    let calls = 0;
    const map = (name: string) => {
      calls += 1;
      return toModel(name);
    };
    const first = mappedOnce(list, 'project-1', map);
    const second = mappedOnce(list, 'project-1', map);
    expect(second).toBe(first);
    expect(first).toEqual([toModel('a'), toModel('b')]);
    expect(calls).toBe(2);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first[0])).toBe(true);
  });

  it('maps a reloaded list again, and the same list under another key for that key', () => {
    const list = Object.freeze(['a']);
    const forOne = mappedOnce(list, 'one', (name) => ({ key: 'one', name }));
    expect(mappedOnce(list, 'two', (name) => ({ key: 'two', name }))).toEqual([{ key: 'two', name: 'a' }]);
    expect(forOne).toEqual([{ key: 'one', name: 'a' }]);
    const reloaded = Object.freeze(['a', 'c']);
    expect(mappedOnce(reloaded, 'two', toModel)).toEqual([toModel('a'), toModel('c')]);
  });

  it('maps a list that is not a shared value on every call, and leaves its models as they are', () => {
    const list = ['a'];
    const first = mappedOnce(list, 'k', toModel);
    const second = mappedOnce(list, 'k', toModel);
    expect(second).not.toBe(first);
    expect(Object.isFrozen(first[0])).toBe(false);
  });
});

describe('pageOnce', () => {
  const models = Object.freeze(['a', 'b', 'c']);

  it('answers a page of shared models as slicePage does, the same frozen page for the same page and size', () => {
    const first = pageOnce(models, 0, 2);
    expect(first).toEqual({ page: 0, size: 2, total: 3, results: ['a', 'b'] });
    expect(pageOnce(models, 0, 2)).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first.results)).toBe(true);
    expect(pageOnce(models, 1, 2)).toEqual({ page: 1, size: 2, total: 3, results: ['c'] });
    expect(pageOnce(models, 0, 3)).toEqual({ page: 0, size: 3, total: 3, results: ['a', 'b', 'c'] });
    expect(pageOnce(models)).toEqual({ page: 0, size: 25, total: 3, results: ['a', 'b', 'c'] });
    // Another list with the same contents has its own pages.
    expect(pageOnce(Object.freeze(['x', 'b', 'c']), 0, 2).results).toEqual(['x', 'b']);
  });

  it('slices lists that are not shared, and pages past the bounds, anew each time', () => {
    const list = ['a', 'b'];
    const first = pageOnce(list, 0, 1);
    expect(pageOnce(list, 0, 1)).not.toBe(first);
    expect(Object.isFrozen(first)).toBe(false);
    expect(pageOnce(models, 0, 101)).not.toBe(pageOnce(models, 0, 101));
  });

  it('keeps a bounded number of pages per list, answering right after forgetting', () => {
    const long = Object.freeze(Array.from({ length: 100 }, (_, i) => i));
    const first = pageOnce(long, 0, 1);
    for (let page = 1; page <= 40; page++) expect(pageOnce(long, page, 1).results).toEqual([page]);
    const again = pageOnce(long, 0, 1);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });
});
