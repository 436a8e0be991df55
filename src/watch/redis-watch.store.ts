import { RedisLease, RedisScript, type RedisService } from '../redis';
import { decodeEntry, type WatchStore } from './watch.store';
import { type StoredEvent } from './watch.types';

/**
 * Appends an event while the owner holds the lease. The sequence starts at the current time in ms when it
 * does not exist, so a history that expired and started again never reuses a cursor a client may hold.
 * KEYS: lease, sequence, history. ARGV: owner, nowMs, body, historySize, ttlMs. Returns -1 when fenced out.
 */
const APPEND = new RedisScript(`if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], ARGV[2]) end
local sequence = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[3], string.format('%d', sequence) .. ' ' .. ARGV[3])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[4]), -1)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return sequence`);

/** Sets a named value, fenced by the lease unless the owner is ''. KEYS: lease, state. ARGV: owner, value, ttlMs. */
const SET_STATE =
  new RedisScript(`if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1`);

/**
 * The Redis-backed store, through the one shared connection. A topic's keys share a hash tag (one slot on
 * a cluster). The key names (`lease`, `seq`, `history`, `state:*`) are shared with running replicas of
 * earlier versions, so they stay as they are.
 */
export class RedisWatchStore implements WatchStore {
  constructor(private readonly redis: RedisService) {}

  acquireLease(topic: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.lease(topic, owner).acquire(leaseMs);
  }

  renewLease(topic: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.lease(topic, owner).renew(leaseMs);
  }

  releaseLease(topic: string, owner: string): Promise<boolean> {
    return this.lease(topic, owner).release();
  }

  async append(
    topic: string,
    owner: string,
    event: Omit<StoredEvent, 'sequence'>,
    historySize: number,
    ttlMs: number,
  ): Promise<StoredEvent | null> {
    const keys = [this.key(topic, 'lease'), this.key(topic, 'seq'), this.key(topic, 'history')];
    const args = [owner, Date.now(), JSON.stringify(event), historySize, ttlMs];
    const sequence = Number(await this.redis.runScript(APPEND, keys, args));
    return sequence < 0 ? null : { sequence, ...event };
  }

  async history(topic: string): Promise<StoredEvent[]> {
    const entries = await this.redis.listRange(this.key(topic, 'history'));
    return entries.map(decodeEntry).filter((e): e is StoredEvent => e !== null);
  }

  async lastSequence(topic: string): Promise<number | null> {
    const raw = await this.redis.get(this.key(topic, 'seq'));
    return raw === null ? null : Number(raw);
  }

  getState(topic: string, name: string): Promise<string | null> {
    return this.redis.get(this.key(topic, `state:${name}`));
  }

  async setState(
    topic: string,
    name: string,
    value: string,
    ttlMs: number,
    owner?: string,
  ): Promise<boolean> {
    const keys = [this.key(topic, 'lease'), this.key(topic, `state:${name}`)];
    return (await this.redis.runScript(SET_STATE, keys, [owner ?? '', value, ttlMs])) === 1;
  }

  private lease(topic: string, owner: string): RedisLease {
    return new RedisLease(this.redis, this.key(topic, 'lease'), owner);
  }

  private key(topic: string, part: string): string {
    return this.redis.taggedKey('watch', `{${topic}}`, part);
  }
}
