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

/** Entry refs `CacheKeys` keeps built (a few hundred bytes each). */
const MAX_REMEMBERED_REFS = 10_000;

/** A cache entry's identity and the Redis keys that belong to it (shared: `CacheKeys` hands out one per entry). */
export interface EntryRef {
  readonly resource: CacheResource;
  /** `p:<projectId>` or `none`: the generation an invalidation bumps. */
  readonly group: string;
  /** The entry's key in Redis (and in the in-process maps, which share its uniqueness). */
  readonly entryKey: string;
  readonly lockKey: string;
}

/**
 * The one place cache keys are built. Every key carries the deployment prefix (`RedisService.key`) and the
 * schema version, e.g. `mg:v1:cache:e:environments:p:<projectId>:<key>`.
 */
export class CacheKeys {
  /**
   * Refs already built, by resource, then group, then key. A read builds its entry's keys (a regex test
   * and two joins per part) and every map lookup hashes the new strings again; a nested GraphQL read asks
   * for dozens of entries per request, the same ones request after request. The same ref (the same string
   * instances, hashed once) is handed out instead; bounded, so ever new keys cannot grow it without end.
   */
  private readonly refs = new Map<string, Map<string | undefined, Map<string, EntryRef>>>();
  private refCount = 0;

  constructor(
    private readonly redis: RedisService,
    readonly version: string,
  ) {}

  groupOf(projectId: string | undefined): string {
    return projectId === undefined ? UNSCOPED_GROUP : `p:${safePart(projectId, 100)}`;
  }

  entry(resource: CacheResource, key: string, projectId: string | undefined): EntryRef {
    let byProject = this.refs.get(resource);
    let byKey = byProject?.get(projectId);
    const known = byKey?.get(key);
    if (known) return known;
    const ref = this.build(resource, key, projectId);
    if (this.refCount >= MAX_REMEMBERED_REFS) {
      this.refs.clear();
      this.refCount = 0;
      byProject = undefined;
      byKey = undefined;
    }
    if (!byProject) {
      byProject = new Map<string | undefined, Map<string, EntryRef>>();
      this.refs.set(resource, byProject);
    }
    if (!byKey) {
      byKey = new Map<string, EntryRef>();
      byProject.set(projectId, byKey);
    }
    byKey.set(key, ref);
    this.refCount++;
    return ref;
  }

  private build(resource: CacheResource, key: string, projectId: string | undefined): EntryRef {
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
