import type { RedisService } from '../redis';
import { CacheKeys } from './cache.keys';

const redis = { key: (...parts: string[]) => `mg:${parts.join(':')}` } as unknown as RedisService;

describe('CacheKeys.entry', () => {
  it('builds the keys of an entry under its project group', () => {
    const ref = new CacheKeys(redis, 'v1').entry('environments', 'p1', 'p1');
    expect(ref).toEqual({
      resource: 'environments',
      group: 'p:p1',
      entryKey: 'mg:v1:cache:e:environments:p:p1:p1',
      lockKey: 'mg:v1:cache:lock:environments:p:p1:p1',
    });
  });

  it('hands out the same ref for the same entry, and another for another resource, project or key', () => {
    const keys = new CacheKeys(redis, 'v1');
    const ref = keys.entry('pipelines', 'p1:dev', 'p1');
    expect(keys.entry('pipelines', 'p1:dev', 'p1')).toBe(ref);
    const others = [
      keys.entry('environments', 'p1:dev', 'p1'),
      keys.entry('pipelines', 'p1:dev', 'p2'),
      keys.entry('pipelines', 'p1:dev', undefined),
      keys.entry('pipelines', 'p1:prod', 'p1'),
    ];
    expect(new Set(others.map((other) => other.entryKey)).size).toBe(4);
    for (const other of others) expect(other.entryKey).not.toBe(ref.entryKey);
    expect(keys.entry('pipelines', 'p1:dev', undefined).group).toBe('none');
  });

  it('stays bounded: after many distinct entries, every ref is still the right one', () => {
    const keys = new CacheKeys(redis, 'v1');
    const first = keys.entry('projects', 'k0', undefined);
    for (let i = 1; i <= 10_001; i++) keys.entry('projects', `k${i}`, undefined);
    const again = keys.entry('projects', 'k0', undefined);
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
    expect(keys.entry('projects', 'k10001', undefined).entryKey).toBe('mg:v1:cache:e:projects:none:k10001');
  });
});
