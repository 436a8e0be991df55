import { createHash } from 'node:crypto';
import type { RedisService } from '../redis';
import type { CacheResource } from './cache.constants';

/** Generation names: everything, one project's entries, and entries grouped under no project. */
export const ALL_GENERATION = 'all';
export const UNSCOPED_GROUP = 'none';

/** Keeps key parts readable when they are short and plain, and bounded when they are not. */
function safePart(part: string, maxLength: number): string {
  if (part.length <= maxLength && /^[\x21-\x7e]+$/.test(part)) return part;
  return `h.${createHash('sha256').update(part).digest('hex')}`;
}

/** A cache entry's identity and the Redis keys that belong to it. */
export interface EntryRef {
  resource: CacheResource;
  /** `p:<projectId>` or `none`: the generation an invalidation bumps. */
  group: string;
  /** The entry's key in Redis (and in the in-process maps, which share its uniqueness). */
  entryKey: string;
  lockKey: string;
}

/**
 * The one place cache keys are built. Every key carries the deployment prefix (`RedisService.key`) and the
 * schema version, e.g. `mg:v1:cache:e:environments:p:<projectId>:<key>`.
 */
export class CacheKeys {
  constructor(
    private readonly redis: RedisService,
    readonly version: string,
  ) {}

  groupOf(projectId: string | undefined): string {
    return projectId === undefined ? UNSCOPED_GROUP : `p:${safePart(projectId, 100)}`;
  }

  entry(resource: CacheResource, key: string, projectId: string | undefined): EntryRef {
    const group = this.groupOf(projectId);
    const part = safePart(key, 200);
    return {
      resource,
      group,
      entryKey: this.redis.key(this.version, 'cache', 'e', resource, group, part),
      lockKey: this.redis.key(this.version, 'cache', 'lock', resource, group, part),
    };
  }

  generation(name: string): string {
    return this.redis.key(this.version, 'cache', 'gen', name);
  }

  /** SCAN pattern of every entry of this version (never used on a request path). */
  entriesPattern(): string {
    return this.redis.key(this.version, 'cache', 'e', '*');
  }

  /** Invalidation channel (RedisService adds the deployment prefix to channels itself). */
  channel(): string {
    return `${this.version}:cache:events`;
  }

  /** Wake-up channel of the cross-replica single-flight lock. */
  flightChannel(): string {
    return `${this.version}:cache:flights`;
  }
}
