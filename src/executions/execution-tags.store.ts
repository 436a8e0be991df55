import { Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { RedisService } from '../redis/redis.service';

const TTL_SECONDS = 7 * 24 * 3600;
const MAX_MEMORY_ENTRIES = 10_000;

/**
 * Remembers which execution the gateway started with an `executionTag`, per (project, environment, tag),
 * so a CONFLICT on that tag can name the run that holds it. Maia does not echo tags, so only runs started
 * through the gateway are known; the answer is a hint, checked against Maia before it is given.
 * Shared through Redis when configured (any replica may see the conflict), memory otherwise.
 */
@Injectable()
export class ExecutionTagsStore {
  private readonly logger = new Logger(ExecutionTagsStore.name);
  private readonly memory = new Map<string, { executionId: string; expiresAtMs: number }>();

  constructor(private readonly redis: RedisService) {}

  private keyOf(projectId: string, environmentName: string, tag: string): string {
    const digest = createHash('sha256')
      .update(JSON.stringify([projectId, environmentName, tag]))
      .digest('hex');
    return this.redis.key('exec-tag', 'v1', digest);
  }

  async remember(
    projectId: string,
    environmentName: string,
    tag: string,
    executionId: string,
  ): Promise<void> {
    const key = this.keyOf(projectId, environmentName, tag);
    this.memory.delete(key);
    this.memory.set(key, { executionId, expiresAtMs: Date.now() + TTL_SECONDS * 1000 });
    if (this.memory.size > MAX_MEMORY_ENTRIES) this.memory.delete(this.memory.keys().next().value as string);
    if (!this.redis.enabled) return;
    try {
      await this.redis.set(key, executionId, { ttlMs: TTL_SECONDS * 1000 });
    } catch (error) {
      this.logger.debug(`Could not record an execution tag in Redis: ${(error as Error).message}`);
    }
  }

  async lookup(projectId: string, environmentName: string, tag: string): Promise<string | undefined> {
    const key = this.keyOf(projectId, environmentName, tag);
    if (this.redis.enabled) {
      try {
        const value = await this.redis.get(key);
        if (value) return value;
      } catch {
        // Redis away: fall back to what this replica remembers.
      }
    }
    const entry = this.memory.get(key);
    return entry && entry.expiresAtMs > Date.now() ? entry.executionId : undefined;
  }
}
