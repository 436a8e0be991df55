import type { KeyvStoreAdapter, StoredData } from 'keyv';
import type { RedisService } from '../redis';

/**
 * A Keyv store over the gateway's one Redis door, so cache-manager reaches Redis without a connection of
 * its own. Keys arrive complete (prefix and version included: the Keyv instance runs without a namespace)
 * and values arrive serialised by Keyv.
 *
 * Errors propagate: cache-manager turns a failed read into a miss, and the cache counts a failed write.
 * `disconnect` is deliberately absent: the connection belongs to RedisService, which closes it last.
 */
export class RedisKeyvStore implements KeyvStoreAdapter {
  readonly opts = { dialect: 'redis' };
  namespace?: string;

  constructor(
    private readonly redis: RedisService,
    /** SCAN pattern covering every key this store may hold; used by `clear` only. */
    private readonly clearPattern: string,
  ) {}

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    return ((await this.redis.get(key)) ?? undefined) as StoredData<Value> | undefined;
  }

  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    const raws = await this.redis.getMany(keys);
    return raws.map((raw) => (raw ?? undefined) as StoredData<Value | undefined>);
  }

  async set(key: string, value: unknown, ttlMs?: number): Promise<boolean> {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    await this.redis.set(key, text, { ttlMs });
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return (await this.redis.delete(key)) > 0;
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    return (await this.redis.delete(...keys)) > 0;
  }

  has(key: string): Promise<boolean> {
    return this.redis.exists(key);
  }

  /** Not on any request path (invalidation uses generations): SCAN on every master, then DEL. */
  async clear(): Promise<void> {
    await this.redis.deleteMatching(this.clearPattern);
  }

  on(): this {
    return this;
  }
}
