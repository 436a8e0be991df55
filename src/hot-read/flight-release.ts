import type { RequestContext } from '../common/request-context';

/**
 * The release of the requests waiting for this request's answer (hot-read-cache.ts, `Flight`), by the
 * request's context: the whole-answer plugin calls it when the operation is not a declared read. A module
 * of its own, so the Apollo plugin needs nothing of the hot-read front's dependencies.
 */
const releases = new WeakMap<RequestContext, () => void>();

export function onReleaseWaiters(ctx: RequestContext, release: () => void): void {
  releases.set(ctx, release);
}

/**
 * Lets the requests waiting behind this one go their own way now: its operation is not a declared read
 * (a mutation, an execution), so its answer will not be shared and nobody should wait for it to finish.
 */
export function releaseWaitersOf(ctx: RequestContext): void {
  const release = releases.get(ctx);
  if (!release) return;
  releases.delete(ctx);
  release();
}
