import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { APP_CONFIG, type AppConfig } from '../config';
import { RedisScript } from '../redis/redis.script';
import { RedisService } from '../redis/redis.service';

/** Authenticated callers are counted by principal id; everyone else by client IP, with a tighter budget. */
export type RateLimitClass = 'principal' | 'unauthenticated';

export interface RateDecision {
  allowed: boolean;
  /** When the next request would be allowed (0 when allowed now). */
  retryAfterMs: number;
  /** Whole tokens left after this request. */
  remaining: number;
  /** True when the decision came from the bucket shared through Redis, false from this replica's memory. */
  shared: boolean;
}

interface BucketPolicy {
  capacity: number;
  refillPerMs: number;
}

/**
 * A token bucket in one atomic script: refill by elapsed time (Redis's own clock, so replicas with
 * skewed clocks agree), take `cost` tokens if there are enough, and expire idle buckets once full again.
 * Returns { allowed (0/1), retryAfterMs, remaining }.
 */
const TOKEN_BUCKET = new RedisScript(`
local capacity = tonumber(ARGV[1])
local refill_per_ms = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(capacity, tokens + elapsed * refill_per_ms)
local allowed = 0
local retry_ms = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_ms = math.ceil((cost - tokens) / refill_per_ms)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / refill_per_ms) + 1000)
return { allowed, retry_ms, math.floor(tokens) }
`);

/** Buckets kept in memory at most; idle full buckets are the first to go. */
const MAX_MEMORY_BUCKETS = 50_000;

interface MemoryBucket {
  tokens: number;
  tsMs: number;
}

/**
 * Per-client request budgets. With Redis the bucket is shared by every replica (one Lua script, one round
 * trip); when Redis is absent, down or slow the same algorithm runs in this replica's memory, so limits
 * loosen to "per replica" during an outage instead of failing requests.
 */
@Injectable()
export class RateLimiterService {
  private readonly logger = new Logger('RateLimiter');
  private readonly memory = new Map<string, MemoryBucket>();
  private readonly policies: Record<RateLimitClass, BucketPolicy>;
  private warnedFallback = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {
    const { perMinute, burst, unauthenticatedPerMinute } = config.auth.rateLimit;
    this.policies = {
      principal: { capacity: burst, refillPerMs: perMinute / 60_000 },
      unauthenticated: {
        capacity: Math.max(1, Math.min(burst, unauthenticatedPerMinute)),
        refillPerMs: unauthenticatedPerMinute / 60_000,
      },
    };
  }

  get enabled(): boolean {
    return this.config.auth.rateLimit.enabled;
  }

  /** Takes `cost` tokens from the client's bucket when it has them. */
  async consume(cls: RateLimitClass, clientKey: string, cost = 1): Promise<RateDecision> {
    const policy = this.policies[cls];
    const key = `${cls}:${clientKey}`;
    if (this.redis.enabled && this.redis.available) {
      try {
        // Its own hash tag: on a Redis Cluster, buckets spread over the shards (one key per script call).
        const redisKey = this.redis.taggedKey('ratelimit', `{${key}}`);
        const reply = (await this.redis.runScript(
          TOKEN_BUCKET,
          [redisKey],
          [policy.capacity, policy.refillPerMs, cost],
        )) as [number, number, number];
        this.warnedFallback = false;
        return { allowed: reply[0] === 1, retryAfterMs: reply[1], remaining: reply[2], shared: true };
      } catch (error) {
        if (!this.warnedFallback) {
          this.logger.warn(`Redis rate limiting failed (${(error as Error).message}): limiting per replica`);
          this.warnedFallback = true;
        }
      }
    }
    return this.consumeInMemory(key, policy, cost);
  }

  /** RATE_LIMITED (429, with `retryAfterSeconds` for the Retry-After header) when over the budget. */
  async assertWithinLimit(cls: RateLimitClass, clientKey: string, cost = 1): Promise<void> {
    if (!this.enabled) return;
    const decision = await this.consume(cls, clientKey, cost);
    if (!decision.allowed) {
      throw new GatewayError(ErrorCode.RATE_LIMITED, 'Too many requests: slow down and retry later', {
        retryAfterSeconds: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)),
      });
    }
  }

  private consumeInMemory(key: string, policy: BucketPolicy, cost: number): RateDecision {
    const nowMs = Date.now();
    const bucket = this.memory.get(key) ?? { tokens: policy.capacity, tsMs: nowMs };
    bucket.tokens = Math.min(
      policy.capacity,
      bucket.tokens + Math.max(0, nowMs - bucket.tsMs) * policy.refillPerMs,
    );
    bucket.tsMs = nowMs;
    let allowed = false;
    let retryAfterMs = 0;
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost;
      allowed = true;
    } else {
      retryAfterMs = Math.ceil((cost - bucket.tokens) / policy.refillPerMs);
    }
    // Re-insert so the map's order is least-recently-used first.
    this.memory.delete(key);
    this.memory.set(key, bucket);
    if (this.memory.size > MAX_MEMORY_BUCKETS) {
      const oldest = this.memory.keys().next().value;
      if (oldest !== undefined) this.memory.delete(oldest);
    }
    return { allowed, retryAfterMs, remaining: Math.floor(bucket.tokens), shared: false };
  }
}
