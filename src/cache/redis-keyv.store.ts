import type { KeyvStoreAdapter, StoredData } from 'keyv';
import type Redis from 'ioredis';

/**
 * A Keyv store over the gateway's one ioredis connection (`RedisService.client`), so cache-manager reaches
 * Redis without opening a connection of its own. Keys arrive complete (deployment prefix and version
 * included: the Keyv instance runs without a namespace) and values arrive serialised by Keyv.
 *
 * Errors propagate: cache-manager turns a failed read into a miss, and the cache service counts a failed
 * write. `disconnect` is deliberately absent: the connection belongs to RedisService, which closes it last.
 */
export class RedisKeyvStore implements KeyvStoreAdapter {
  readonly opts = { dialect: 'redis' };
  namespace?: string;

  constructor(
    private readonly client: Redis,
    /** SCAN pattern covering every key this store may hold; used by `clear` only. */
    private readonly clearPattern: string,
    /** The connections SCAN must walk (each master of a Redis Cluster). */
    private readonly scanTargets: () => Redis[] = () => [client],
  ) {}

  async get<Value>(key: string): Promise<StoredData<Value> | undefined> {
    const raw = await this.client.get(key);
    return (raw ?? undefined) as StoredData<Value> | undefined;
  }

  async getMany<Value>(keys: string[]): Promise<Array<StoredData<Value | undefined>>> {
    if (keys.length === 0) return [];
    const raws = await this.client.mget(...keys);
    return raws.map((raw) => (raw ?? undefined) as StoredData<Value | undefined>);
  }

  async set(key: string, value: unknown, ttlMs?: number): Promise<boolean> {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (ttlMs !== undefined && ttlMs > 0) await this.client.set(key, text, 'PX', Math.ceil(ttlMs));
    else await this.client.set(key, text);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return (await this.client.del(key)) > 0;
  }

  async deleteMany(keys: string[]): Promise<boolean> {
    if (keys.length === 0) return false;
    return (await this.client.del(...keys)) > 0;
  }

  async has(key: string): Promise<boolean> {
    return (await this.client.exists(key)) > 0;
  }

  /** Not on any request path (invalidation uses generations): walks this store's keys with SCAN. */
  async clear(): Promise<void> {
    for (const node of this.scanTargets()) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', this.clearPattern, 'COUNT', 500);
        // One DEL per key: on a cluster, keys of one master may still be of several slots.
        await Promise.all(keys.map((key) => this.client.del(key)));
        cursor = next;
      } while (cursor !== '0');
    }
  }

  on(): this {
    return this;
  }
}
