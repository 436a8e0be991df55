import { type RedisService } from '../redis/redis.service';
import { decodeEntry, type WatchStore } from './watch.store';
import { type StoredEvent } from './watch.types';

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

// KEYS: lease, seq, history. ARGV: owner, nowMs, body, historySize, ttlMs.
// The sequence starts at the current time in ms when it does not exist, so a history that expired and
// started again never reuses a cursor a client may still hold.
const APPEND = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], ARGV[2]) end
local seq = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[3], string.format('%d', seq) .. ' ' .. ARGV[3])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[4]), -1)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return seq`;

// KEYS: lease, state. ARGV: owner ('' = unfenced), value, ttlMs.
const SET_STATE = `if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1`;

/** The Redis-backed store, through the one shared connection. Keys of a topic share a hash tag. */
export class RedisWatchStore implements WatchStore {
  constructor(private readonly redis: RedisService) {}

  async acquireLease(topic: string, owner: string, leaseMs: number): Promise<boolean> {
    const result = await this.client.set(this.k(topic, 'lease'), owner, 'PX', leaseMs, 'NX');
    return result === 'OK';
  }

  async renewLease(topic: string, owner: string, leaseMs: number): Promise<boolean> {
    return (await this.client.eval(RENEW, 1, this.k(topic, 'lease'), owner, leaseMs)) === 1;
  }

  async releaseLease(topic: string, owner: string): Promise<boolean> {
    return (await this.client.eval(RELEASE, 1, this.k(topic, 'lease'), owner)) === 1;
  }

  async append(
    topic: string,
    owner: string,
    event: Omit<StoredEvent, 'seq'>,
    historySize: number,
    ttlMs: number,
  ): Promise<StoredEvent | null> {
    const seq = (await this.client.eval(
      APPEND,
      3,
      this.k(topic, 'lease'),
      this.k(topic, 'seq'),
      this.k(topic, 'history'),
      owner,
      Date.now(),
      JSON.stringify(event),
      historySize,
      ttlMs,
    )) as number;
    return seq < 0 ? null : { seq, ...event };
  }

  async history(topic: string): Promise<StoredEvent[]> {
    const entries = await this.client.lrange(this.k(topic, 'history'), 0, -1);
    return entries.map(decodeEntry).filter((e): e is StoredEvent => e !== null);
  }

  async lastSeq(topic: string): Promise<number | null> {
    const raw = await this.client.get(this.k(topic, 'seq'));
    return raw === null ? null : Number(raw);
  }

  async getState(topic: string, name: string): Promise<string | null> {
    return this.client.get(this.k(topic, `state:${name}`));
  }

  async setState(
    topic: string,
    name: string,
    value: string,
    ttlMs: number,
    owner?: string,
  ): Promise<boolean> {
    const keys = [this.k(topic, 'lease'), this.k(topic, `state:${name}`)];
    return (await this.client.eval(SET_STATE, 2, ...keys, owner ?? '', value, ttlMs)) === 1;
  }

  private get client() {
    if (!this.redis.client) throw new Error('RedisWatchStore needs a Redis client');
    return this.redis.client;
  }

  private k(topic: string, part: string): string {
    return this.redis.taggedKey('watch', `{${topic}}`, part); // one execution's keys in one slot
  }
}
