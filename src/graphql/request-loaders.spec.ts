import { RequestLoaders } from './request-loaders';

describe('RequestLoaders', () => {
  it('loads each key once per request, however often and however late it is asked for', async () => {
    const calls: string[] = [];
    const loaders = new RequestLoaders();
    const load = async (key: string) => {
      calls.push(key);
      return `value of ${key}`;
    };
    const loader = loaders.get('things', load);
    expect(await Promise.all([loader.load('a'), loader.load('b'), loader.load('a')])).toEqual([
      'value of a',
      'value of b',
      'value of a',
    ]);
    // Later in the same request, through the same name: still no new call.
    expect(await loaders.get('things', load).load('a')).toBe('value of a');
    expect(calls).toEqual(['a', 'b']);
  });

  it('fails only the key whose load failed', async () => {
    const loader = new RequestLoaders().get('things', async (key: string) => {
      if (key === 'bad') throw new Error('boom');
      return key;
    });
    const results = await Promise.allSettled([loader.load('good'), loader.load('bad')]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: 'good' });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: new Error('boom') });
  });

  it('without cache (subscriptions), batches at once but loads again later', async () => {
    let count = 0;
    const loader = new RequestLoaders({ cache: false }).get('things', async (key: string) => {
      count++;
      return key;
    });
    await loader.load('a');
    await loader.load('a');
    expect(count).toBe(2);
  });

  it('uses the given cache key for object keys', async () => {
    let count = 0;
    const loader = new RequestLoaders().get(
      'pairs',
      async (key: { p: string; e: string }) => {
        count++;
        return `${key.p}/${key.e}`;
      },
      (key) => `${key.p}\u0000${key.e}`,
    );
    await Promise.all([loader.load({ p: '1', e: 'Dev' }), loader.load({ p: '1', e: 'Dev' })]);
    expect(count).toBe(1);
  });

  it('hands the keys of one tick to a batch loader together, each distinct key once', async () => {
    const batches: string[][] = [];
    const loaders = new RequestLoaders();
    const loadMany = async (keys: readonly string[]) => {
      batches.push([...keys]);
      return keys.map((key) => (key === 'bad' ? new Error('boom') : `value of ${key}`));
    };
    const loader = loaders.batch('many', loadMany);
    const results = await Promise.allSettled([
      loader.load('a'),
      loader.load('b'),
      loader.load('a'),
      loader.load('bad'),
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'value of a',
      'value of b',
      'value of a',
      'boom',
    ]);
    expect(batches).toEqual([['a', 'b', 'bad']]);
    expect(await loaders.batch('many', loadMany).load('b')).toBe('value of b');
    expect(batches).toHaveLength(1);
  });

  it('fails every key of a batch whose load failed as a whole', async () => {
    const loader = new RequestLoaders().batch('many', async (_keys: readonly string[]) => {
      throw new Error('upstream down');
    });
    const results = await Promise.allSettled([loader.load('a'), loader.load('b')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
