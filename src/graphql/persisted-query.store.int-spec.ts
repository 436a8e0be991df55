import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Logger } from '@nestjs/common';
import { loadConfig } from '../config';
import { RedisService } from '../redis';
import { PersistedQueryStore } from './persisted-query.store';

/**
 * A short connect timeout only where Redis is away: a reachable Redis slower than that to connect on a
 * loaded machine would start the store without it, and the first case would read a miss.
 */
function redisConfig(url: string, connectTimeoutMs?: number) {
  return loadConfig({
    REDIS_URL: url,
    REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
    ...(connectTimeoutMs === undefined ? {} : { REDIS_CONNECT_TIMEOUT_MS: String(connectTimeoutMs) }),
  });
}

async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('PersistedQueryStore', () => {
  const services: RedisService[] = [];
  afterAll(async () => {
    for (const service of services) service.disconnect();
  });

  it('keeps a document in Redis for the TTL Apollo gives, readable from another connection', async () => {
    // Two connections of one deployment (same key prefix), as two replicas have.
    const config = redisConfig('redis://127.0.0.1:6379');
    const [writer, reader] = [new RedisService(config), new RedisService(config)];
    services.push(writer, reader);
    await Promise.all([writer.onModuleInit(), reader.onModuleInit()]);

    await new PersistedQueryStore(writer).set('apq:abc', '{ projects { total } }', { ttl: 60 });
    expect(await new PersistedQueryStore(reader).get('apq:abc')).toBe('{ projects { total } }');
    const ttlMs = await reader.remainingTtlMs(reader.taggedKey('graphql', 'apq:abc'));
    expect(ttlMs).toBeGreaterThan(50_000);
    expect(ttlMs).toBeLessThanOrEqual(60_000);
    expect(await new PersistedQueryStore(reader).get('apq:unknown')).toBeUndefined();
  });

  it('answers a miss when Redis is away, and a write that fails is only logged', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const away = new RedisService(redisConfig(`redis://127.0.0.1:${await closedPort()}`, 300));
    services.push(away);
    const store = new PersistedQueryStore(away);
    expect(await store.get('apq:abc')).toBeUndefined();
    await expect(store.set('apq:abc', '{ projects { total } }', { ttl: 60 })).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(2);
    warn.mockRestore();
  });
});
