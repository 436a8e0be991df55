import { RedisLease, RedisScript, type RedisService } from '../redis';
import { topicChannelName } from './topic.message';
import { decodeEntry, type AppendOptions, type WatchStore } from './watch.store';
import { type StoredEvent } from './watch.types';

/**
 * Appends an event while the owner holds the lease, extends the lease, and publishes the event on the
 * topic's channel (the message `encodeTopicMessage` writes, with the sequence only known here): one round
 * trip for what took three. The sequence starts at the current time in ms when it does not exist, so a
 * history that expired and started again never reuses a cursor a client may hold.
 * KEYS: lease, sequence, history. ARGV: owner, nowMs, body (the event's JSON without its sequence),
 * historySize, ttlMs, leaseMs, channel, final ('1': delete the lease and publish `released` instead of
 * extending it), claim ('1': take the lease when nobody holds it and the topic has no sequence yet, see
 * `AppendOptions.claim`). Returns -1 when fenced out.
 */
const APPEND = new RedisScript(`local holder = redis.call('GET', KEYS[1])
if holder ~= ARGV[1] then
  if ARGV[9] ~= '1' or holder or redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[6])
end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], ARGV[2]) end
local sequence = redis.call('INCR', KEYS[2])
local number = string.format('%d', sequence)
redis.call('RPUSH', KEYS[3], number .. ' ' .. ARGV[3])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[4]), -1)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
redis.call('PUBLISH', ARGV[7], '{"type":"event","event":{"sequence":' .. number .. ',' .. string.sub(ARGV[3], 2) .. '}')
if ARGV[8] == '1' then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[7], '{"type":"released"}')
else
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
return sequence`);

/**
 * Takes the lease when free and returns the newest kept entry ('' when none), or false when taken.
 * KEYS: lease, history. ARGV: owner, leaseMs.
 */
const ACQUIRE_READING_LATEST =
  new RedisScript(`if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('LINDEX', KEYS[2], -1) or ''`);

/**
 * Deletes the lease while the owner holds it and tells the channel (`released`), so a follower with
 * subscribers takes over at once. KEYS: lease. ARGV: owner, channel. Returns 1 when it deleted.
 */
const RELEASE = new RedisScript(`if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], '{"type":"released"}')
return 1`);

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
  readonly announcesWrites = true;

  constructor(private readonly redis: RedisService) {}

  acquireLease(topic: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.lease(topic, owner).acquire(leaseMs);
  }

  async acquireLeaseReadingLatest(
    topic: string,
    owner: string,
    leaseMs: number,
  ): Promise<{ latest: StoredEvent | null } | null> {
    const keys = [this.key(topic, 'lease'), this.key(topic, 'history')];
    const entry = await this.redis.runScript(ACQUIRE_READING_LATEST, keys, [owner, leaseMs]);
    if (typeof entry !== 'string') return null;
    return { latest: entry === '' ? null : decodeEntry(entry) };
  }

  renewLease(topic: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.lease(topic, owner).renew(leaseMs);
  }

  async releaseLease(topic: string, owner: string): Promise<boolean> {
    const released = await this.redis.runScript(
      RELEASE,
      [this.key(topic, 'lease')],
      [owner, this.channel(topic)],
    );
    return released === 1;
  }

  async append(
    topic: string,
    owner: string,
    event: Omit<StoredEvent, 'sequence'>,
    { historySize, ttlMs, leaseMs, final, claim }: AppendOptions,
  ): Promise<StoredEvent | null> {
    const keys = [this.key(topic, 'lease'), this.key(topic, 'seq'), this.key(topic, 'history')];
    const body = JSON.stringify(event);
    const args = [
      owner,
      Date.now(),
      body,
      historySize,
      ttlMs,
      leaseMs,
      this.channel(topic),
      final ? '1' : '0',
      claim ? '1' : '0',
    ];
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

  /** The channel's full name, as `RedisService.publish` and `subscribe` name it. */
  private channel(topic: string): string {
    return this.redis.key(topicChannelName(topic));
  }

  private key(topic: string, part: string): string {
    return this.redis.taggedKey('watch', `{${topic}}`, part);
  }
}
