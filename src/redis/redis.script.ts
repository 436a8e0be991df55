import { createHash } from 'node:crypto';

/**
 * A Lua script known by its SHA1: `RedisService.runScript` sends EVALSHA and the text only when the server
 * does not know it yet. Scripts are module constants, so the hash is computed once.
 */
export class RedisScript {
  readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }
}

/** Deletes KEYS[1] only while it holds ARGV[1]: an owner never removes what another owner wrote. */
export const COMPARE_AND_DELETE = new RedisScript(
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
);

/** Sets KEYS[1] to expire in ARGV[2] ms only while it holds ARGV[1] (a lease renewal). */
export const COMPARE_AND_EXPIRE = new RedisScript(
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end",
);

/** Replaces KEYS[1] with ARGV[1], keeping its expiry, only while it exists (an expired key stays gone). */
export const REPLACE_KEEPING_TTL = new RedisScript(
  "if redis.call('exists', KEYS[1]) == 1 then return redis.call('set', KEYS[1], ARGV[1], 'KEEPTTL') end return nil",
);
