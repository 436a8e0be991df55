import { mappedOnce } from './mapped-once';

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
