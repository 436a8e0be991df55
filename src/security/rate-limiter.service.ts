import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
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
  /**
   * Whole tokens left after this request: exact from this replica's memory; from the shared bucket, this
   * replica's unspent share plus what the bucket held at its last grant (other replicas may have spent some).
   */
  remaining: number;
  /** True when the decision came from the bucket shared through Redis, false from this replica's memory. */
  shared: boolean;
}

interface BucketPolicy {
  capacity: number;
  refillPerMs: number;
}

/**
 * A replica never takes more than this fraction (1/n) of what the shared bucket holds in one grant (but
 * at least what the request needs): near exhaustion grants shrink to one token, so the last tokens go to
 * whichever replica asks, one at a time, as with one script call per request.
 */
const SHARE_FRACTION_DIVISOR = 8;

/**
 * A token bucket in one atomic script: refill by elapsed time (Redis's own clock, so replicas with skewed
 * clocks agree), add back `back` tokens a replica took and did not spend, then, when at least `need` are
 * there, grant what the requests waiting now need (`demand`, as far as there are tokens) or, when more, up
 * to `want` tokens but never more than 1/`divisor` of what is there; idle buckets expire once full again.
 * `need` 0 only gives back.
 * Returns { granted, retryAfterMs (when nothing was granted), whole tokens left }.
 * Same key and fields as the one-token-per-call script it replaced, so both can share a bucket while a
 * fleet is upgraded.
 *
 * One or several buckets in one call: the same steps, bucket after bucket, with one clock reading (as
 * calls back to back would see it). KEYS[i]'s six values start at ARGV[(i-1)*6+1]; the divisor is the last
 * ARGV. Returns the three values of each bucket, in order. On a Redis Cluster one key per call: its keys
 * carry one hash tag per client, so they live in different slots.
 * A bucket whose commands fail (its key holds another type, say) answers { -1, 0, error message } and
 * is left as it was: `redis.pcall`, so the error stays in its bucket and the others are decided as usual
 * (with `redis.call` one bad key failed every caller of the batch over to the memory fallback).
 */
const TOKEN_GRANTS = new RedisScript(`
local n = #KEYS
local divisor = tonumber(ARGV[n * 6 + 1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, n do
  local base = (i - 1) * 6
  local capacity = tonumber(ARGV[base + 1])
  local refill_per_ms = tonumber(ARGV[base + 2])
  local need = tonumber(ARGV[base + 3])
  local demand = tonumber(ARGV[base + 4])
  local want = tonumber(ARGV[base + 5])
  local back = tonumber(ARGV[base + 6])
  local state = redis.pcall('HMGET', KEYS[i], 'tokens', 'ts')
  local failed = type(state) == 'table' and state.err
  if not failed then
    local tokens = tonumber(state[1])
    local ts = tonumber(state[2])
    if tokens == nil or ts == nil then
      tokens = capacity
      ts = now
    end
    local elapsed = now - ts
    if elapsed < 0 then elapsed = 0 end
    tokens = math.min(capacity, tokens + elapsed * refill_per_ms + back)
    local granted = 0
    local retry_ms = 0
    if need > 0 then
      if tokens >= need then
        granted = math.min(math.floor(tokens), math.max(demand, math.min(want, math.floor(tokens / divisor))))
        tokens = tokens - granted
      else
        retry_ms = math.ceil((need - tokens) / refill_per_ms)
      end
    end
    local written = redis.pcall('HSET', KEYS[i], 'tokens', tostring(tokens), 'ts', tostring(now))
    failed = type(written) == 'table' and written.err
    if not failed then
      redis.pcall('PEXPIRE', KEYS[i], math.ceil(capacity / refill_per_ms) + 1000)
      out[i * 3 - 2] = granted
      out[i * 3 - 1] = retry_ms
      out[i * 3] = math.floor(tokens)
    end
  end
  if failed then
    out[i * 3 - 2] = -1
    out[i * 3 - 1] = 0
    out[i * 3] = failed
  end
end
return out
`);

/** Buckets one TOKEN_GRANTS call serves at most (a Lua script blocks Redis while it runs). */
const MAX_GRANTS_PER_CALL = 128;

type GrantReply = [granted: number, retryAfterMs: number, left: number];

/** One bucket's part of the next TOKEN_GRANTS call. */
interface PendingGrant {
  key: string;
  args: number[];
  resolve: (reply: GrantReply) => void;
  reject: (error: unknown) => void;
}

/** Buckets (memory fallback) and local shares kept at most; the least recently used go first. */
const MAX_MEMORY_BUCKETS = 50_000;
const MAX_SHARES = 50_000;

interface MemoryBucket {
  tokens: number;
  tsMs: number;
}

/** This replica's share of one client's shared bucket. */
interface LocalShare {
  readonly cls: RateLimitClass;
  readonly clientKey: string;
  readonly key: string;
  /** Tokens granted by the shared bucket and not spent yet. */
  tokens: number;
  /** Tokens asked for at the next grant: doubles while the caller spends its shares within the hold. */
  batch: number;
  /** When the current grant's unspent tokens go back; 0 when there is no current grant. */
  grantExpiresAtMs: number;
  /** Whole tokens the shared bucket held after the last grant (for `remaining`). */
  sharedLeft: number;
  /** After a refusal: refused again without asking Redis until then (at most one hold). */
  recheckAtMs: number;
  /** After a refusal: when the shared bucket will have what was needed. */
  retryAtMs: number;
  /** True while a grant is asked for: the requests in `queue` wait for it instead of asking too. */
  refilling: boolean;
  /** Requests waiting for a grant, served first come first served. */
  queue: Waiter[];
}

interface Waiter {
  cost: number;
  resolve: (decision: RateDecision) => void;
}

/**
 * Per-client request budgets. With Redis the bucket is shared by every replica, but a replica does not
 * ask Redis per request: it takes a batch of tokens (a local share) in one script call and spends it in
 * memory, synchronously. The batch grows while the caller spends it quickly (up to `RATE_LIMIT_SHARE_MAX`)
 * and shrinks near exhaustion, where grants become one token; what is not spent within
 * `RATE_LIMIT_SHARE_HOLD_MS` goes back to the shared bucket (ADR 0027). When Redis is absent, down or slow
 * the same bucket runs in this replica's memory, so limits loosen to "per replica" during an outage
 * instead of failing requests.
 */
/** At most one "limiting per replica" warning in this long (see `warnFallback`). */
const FALLBACK_WARNING_INTERVAL_MS = 60_000;

@Injectable()
export class RateLimiterService implements OnApplicationShutdown {
  private readonly logger = new Logger('RateLimiter');
  private readonly memory = new Map<string, MemoryBucket>();
  /** Local shares by `${cls}:${clientKey}`, oldest first. */
  private readonly shares = new Map<string, LocalShare>();
  /** The same shares by class and client key: a charge finds its share without building the joined key. */
  private readonly sharesByClient: Record<RateLimitClass, Map<string, LocalShare>> = {
    principal: new Map(),
    unauthenticated: new Map(),
  };
  private readonly policies: Record<RateLimitClass, BucketPolicy>;
  private readonly shareMax: number;
  private readonly holdMs: number;
  private sweeper: NodeJS.Timeout | undefined;
  /** When the last "limiting per replica" warning was written, and the fallbacks since it. */
  private fallbackWarnedAtMs = Number.NEGATIVE_INFINITY;
  private fallbacksSinceWarning = 0;
  /** Grants and give-backs asked for in this turn of the event loop: sent together (see `grant`). */
  private pendingGrants: PendingGrant[] = [];
  private flushScheduled = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redis: RedisService,
  ) {
    const { perMinute, burst, unauthenticatedPerMinute, shareMax, shareHoldMs } = config.auth.rateLimit;
    this.policies = {
      principal: { capacity: burst, refillPerMs: perMinute / 60_000 },
      unauthenticated: {
        capacity: Math.max(1, Math.min(burst, unauthenticatedPerMinute)),
        refillPerMs: unauthenticatedPerMinute / 60_000,
      },
    };
    this.shareMax = shareMax;
    this.holdMs = shareHoldMs;
  }

  get enabled(): boolean {
    return this.config.auth.rateLimit.enabled;
  }

  /**
   * Takes `cost` tokens from the client's bucket when it has them. Synchronous when this replica's share
   * answers (tokens held, or a refusal still fresh) or Redis is not in use; a promise when it must ask Redis.
   */
  consume(cls: RateLimitClass, clientKey: string, cost = 1): RateDecision | Promise<RateDecision> {
    const share = this.sharesByClient[cls].get(clientKey);
    if (share) {
      const local = this.spendLocally(share, cost, Date.now());
      if (local) return local;
    }
    const key = `${cls}:${clientKey}`;
    if (!this.redis.enabled || !this.redis.available) {
      return this.consumeInMemory(key, this.policies[cls], cost);
    }
    return this.consumeShared(cls, key, clientKey, cost);
  }

  /**
   * RATE_LIMITED (429, with `retryAfterSeconds` for the Retry-After header) when over the budget: thrown
   * when the decision is synchronous, a rejection otherwise.
   */
  assertWithinLimit(cls: RateLimitClass, clientKey: string, cost = 1): void | Promise<void> {
    if (!this.enabled) return;
    // Most charges of a busy caller: spent from its share as `spendLocally` would, no decision object made.
    const share = this.sharesByClient[cls].get(clientKey);
    if (share !== undefined && share.tokens >= cost && Date.now() < share.grantExpiresAtMs) {
      share.tokens -= cost;
      return;
    }
    const decision = this.consume(cls, clientKey, cost);
    if (decision instanceof Promise) return decision.then(assertAllowed);
    assertAllowed(decision);
  }

  /** Gives back what this replica holds, so the other replicas can spend it at once. */
  async onApplicationShutdown(): Promise<void> {
    this.stopSweeper();
    const held = [...this.shares.values()];
    this.shares.clear();
    this.sharesByClient.principal.clear();
    this.sharesByClient.unauthenticated.clear();
    await Promise.all(held.map((share) => this.giveBack(share)));
  }

  /**
   * Spends from the share, or repeats a fresh refusal; undefined when Redis must be asked. `granted`: the
   * tokens were just granted for the requests waiting, which spend them whatever the hold (a round trip
   * slower than the hold must not expire them before anyone could).
   */
  private spendLocally(
    share: LocalShare,
    cost: number,
    nowMs: number,
    granted = false,
  ): RateDecision | undefined {
    if (share.tokens >= cost && (granted || nowMs < share.grantExpiresAtMs)) {
      share.tokens -= cost;
      return { allowed: true, retryAfterMs: 0, remaining: share.tokens + share.sharedLeft, shared: true };
    }
    if (nowMs < share.recheckAtMs) {
      return {
        allowed: false,
        retryAfterMs: Math.max(1, share.retryAtMs - nowMs),
        remaining: 0,
        shared: true,
      };
    }
    return undefined;
  }

  /**
   * Queues the request on the caller's share and, unless a grant is already being asked for, asks: one
   * script call at a time per caller and replica, each asking for every queued request's tokens.
   */
  private consumeShared(
    cls: RateLimitClass,
    key: string,
    clientKey: string,
    cost: number,
  ): Promise<RateDecision> {
    const share = this.shareOf(cls, key, clientKey);
    return new Promise<RateDecision>((resolve) => {
      share.queue.push({ cost, resolve });
      if (!share.refilling) void this.serveQueue(share);
    });
  }

  /** Grants until every queued request is answered (admitted, refused, or by memory when Redis fails). */
  private async serveQueue(share: LocalShare): Promise<void> {
    share.refilling = true;
    let granted = false;
    try {
      for (;;) {
        const nowMs = Date.now();
        while (share.queue.length > 0) {
          const decision = this.spendLocally(share, share.queue[0].cost, nowMs, granted);
          if (!decision) break;
          share.queue.shift()?.resolve(decision);
        }
        if (share.queue.length === 0) return;
        const demand = share.queue.reduce((sum, waiter) => sum + waiter.cost, 0);
        if (!(await this.refill(share, share.queue[0].cost, demand))) {
          const policy = this.policies[share.cls];
          for (const waiter of share.queue.splice(0)) {
            waiter.resolve(this.consumeInMemory(share.key, policy, waiter.cost));
          }
          return;
        }
        granted = true;
      }
    } finally {
      share.refilling = false;
    }
  }

  /**
   * One script call: gives back tokens whose hold ended, asks for what the first queued request needs, what
   * all of them need, and a batch ahead, and records the grant or the refusal on the share. False when
   * Redis failed (the waiting requests fall back to memory).
   */
  private async refill(share: LocalShare, cost: number, demand: number): Promise<boolean> {
    const startedMs = Date.now();
    let back = 0;
    if (share.grantExpiresAtMs > 0) {
      if (startedMs < share.grantExpiresAtMs) {
        // The last grant was spent within its hold: the caller is busy, ask for more at once.
        share.batch = Math.min(this.shareMax, share.batch * 2);
      } else {
        back = share.tokens;
        share.tokens = 0;
        share.batch = Math.max(1, share.batch >> 1);
      }
      share.grantExpiresAtMs = 0;
    }
    const need = Math.max(1, cost - share.tokens);
    // Tokens for requests already waiting are spent at once; only the batch ahead is held.
    const wanted = Math.max(1, demand - share.tokens);
    const want = Math.max(wanted, Math.min(this.shareMax, share.batch));
    const policy = this.policies[share.cls];
    let reply: GrantReply;
    try {
      reply = await this.grant(share.key, [policy.capacity, policy.refillPerMs, need, wanted, want, back]);
    } catch (error) {
      this.warnFallback(error as Error);
      return false;
    }
    const [granted, retryAfterMs, left] = reply;
    const nowMs = Date.now();
    share.sharedLeft = left;
    if (granted > 0) {
      share.tokens += granted;
      // The hold counts from the request: a slow round trip does not stretch it.
      share.grantExpiresAtMs = startedMs + this.holdMs;
      share.recheckAtMs = 0;
    } else {
      share.batch = 1;
      share.retryAtMs = nowMs + retryAfterMs;
      // Ask again after at most one hold: another replica's unspent share may come back by then.
      share.recheckAtMs = nowMs + Math.min(retryAfterMs, this.holdMs);
    }
    this.startSweeper();
    return true;
  }

  /**
   * A grant Redis could not make (down, or one bucket's own error): said at most once a minute, with the
   * count since, so one failing bucket among healthy ones does not write a warning per request.
   */
  private warnFallback(error: Error): void {
    this.fallbacksSinceWarning += 1;
    const nowMs = Date.now();
    if (nowMs - this.fallbackWarnedAtMs < FALLBACK_WARNING_INTERVAL_MS) return;
    const count = this.fallbacksSinceWarning;
    this.fallbackWarnedAtMs = nowMs;
    this.fallbacksSinceWarning = 0;
    this.logger.warn(
      `Redis rate limiting failed (${error.message}): limiting per replica` +
        (count > 1 ? ` (${count} grants fell back since the last warning)` : ''),
    );
  }

  private shareOf(cls: RateLimitClass, key: string, clientKey: string): LocalShare {
    let share = this.shares.get(key);
    if (!share) {
      share = {
        cls,
        clientKey,
        key,
        tokens: 0,
        batch: 1,
        grantExpiresAtMs: 0,
        sharedLeft: 0,
        recheckAtMs: 0,
        retryAtMs: 0,
        refilling: false,
        queue: [],
      };
      this.shares.set(key, share);
      this.sharesByClient[cls].set(clientKey, share);
      if (this.shares.size > MAX_SHARES) {
        const oldest = this.shares.values().next().value;
        if (oldest && !oldest.refilling) {
          this.forget(oldest);
          void this.giveBack(oldest);
        }
      }
    }
    return share;
  }

  /**
   * Every half hold: unspent tokens whose hold ended go back to the shared bucket, and idle shares shrink
   * their batch (a caller seen rarely starts at one token again) and are forgotten once it is one.
   */
  private sweep(): void {
    const nowMs = Date.now();
    for (const share of this.shares.values()) {
      if (share.refilling) continue;
      if (share.grantExpiresAtMs > 0) {
        if (nowMs < share.grantExpiresAtMs) continue;
        share.grantExpiresAtMs = 0;
        share.batch = Math.max(1, share.batch >> 1);
        void this.giveBack(share);
        continue;
      }
      if (nowMs < share.recheckAtMs) continue;
      if (share.batch > 1) share.batch >>= 1;
      else this.forget(share);
    }
    if (this.shares.size === 0) this.stopSweeper();
  }

  private forget(share: LocalShare): void {
    this.shares.delete(share.key);
    this.sharesByClient[share.cls].delete(share.clientKey);
  }

  /** Returns the share's unspent tokens to the shared bucket; lost if Redis fails (the bucket refills). */
  private async giveBack(share: LocalShare): Promise<void> {
    const back = share.tokens;
    share.tokens = 0;
    if (back <= 0 || !this.redis.enabled || !this.redis.available) return;
    const policy = this.policies[share.cls];
    try {
      await this.grant(share.key, [policy.capacity, policy.refillPerMs, 0, 0, 0, back]);
    } catch (error) {
      this.logger.debug(`Could not give back ${back} rate-limit tokens: ${(error as Error).message}`);
    }
  }

  private startSweeper(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => this.sweep(), Math.max(25, this.holdMs / 2));
    // Never keeps the process alive on its own.
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /**
   * One bucket's grant (or give-back: `need` 0). Every grant and give-back asked for during one turn of the
   * event loop goes in one TOKEN_GRANTS call after that turn's I/O (`setImmediate`): under load a turn
   * admits many callers' requests, and each script call costs the gateway more CPU than the rest of the
   * admission together (ADR 0038). On a Redis Cluster (one hash tag per client), one call per bucket, at once.
   */
  private grant(key: string, args: number[]): Promise<GrantReply> {
    if (this.redis.cluster) {
      return this.sendGrants([{ key, args }]).then(([reply]) => {
        if (reply instanceof Error) throw reply;
        return reply;
      });
    }
    return new Promise<GrantReply>((resolve, reject) => {
      this.pendingGrants.push({ key, args, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushGrants());
      }
    });
  }

  private flushGrants(): void {
    this.flushScheduled = false;
    const pending = this.pendingGrants;
    this.pendingGrants = [];
    for (let start = 0; start < pending.length; start += MAX_GRANTS_PER_CALL) {
      void this.flushBatch(pending.slice(start, start + MAX_GRANTS_PER_CALL));
    }
  }

  private async flushBatch(batch: PendingGrant[]): Promise<void> {
    let replies: (GrantReply | Error)[];
    try {
      replies = await this.sendGrants(batch);
    } catch (error) {
      for (const g of batch) g.reject(error);
      return;
    }
    batch.forEach((g, i) => {
      const reply = replies[i];
      if (reply instanceof Error) g.reject(reply);
      else g.resolve(reply);
    });
  }

  /** One TOKEN_GRANTS call for these buckets; their replies in order (an Error for a bucket that failed). */
  private async sendGrants(
    batch: readonly { key: string; args: number[] }[],
  ): Promise<(GrantReply | Error)[]> {
    const keys = batch.map((g) => this.redisKeyOf(g.key));
    const args = batch.flatMap((g) => g.args);
    args.push(SHARE_FRACTION_DIVISOR);
    const reply = (await this.redis.runScript(TOKEN_GRANTS, keys, args)) as (number | string)[];
    return batch.map((_, i) =>
      reply[i * 3] === -1
        ? new Error(String(reply[i * 3 + 2]))
        : [reply[i * 3] as number, reply[i * 3 + 1] as number, reply[i * 3 + 2] as number],
    );
  }

  /** Its own hash tag: on a Redis Cluster, buckets spread over the shards (one key per script call). */
  private redisKeyOf(key: string): string {
    return this.redis.taggedKey('ratelimit', `{${key}}`);
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

function assertAllowed(decision: RateDecision): void {
  if (!decision.allowed) {
    throw new GatewayError(ErrorCode.RATE_LIMITED, 'Too many requests: slow down and retry later', {
      retryAfterSeconds: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)),
    });
  }
}
