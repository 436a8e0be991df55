import { ErrorCode, GatewayError } from '../common/errors';
import { setLongTimeout } from '../common/timers';

/** The error of a call its caller aborted (client went away, shutdown). */
export function abortedError(): GatewayError {
  return new GatewayError(ErrorCode.UPSTREAM_TIMEOUT, 'The call to Maia was abandoned by its caller', {
    aborted: true,
  });
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw abortedError();
}

/** Waits `ms`; rejects with `abortedError()` as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortedError());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      timer.clear();
      reject(abortedError());
    };
    const timer = setLongTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const timedOut = Symbol('timedOut');

/**
 * Waits for a promise at most `ms`. The promise keeps running (it is shared, e.g. a token refresh other
 * callers wait for); only this caller stops waiting.
 */
export function waitAtMost<T>(
  promise: Promise<T>,
  ms: number,
  signal?: AbortSignal,
): Promise<T | typeof timedOut> {
  if (signal?.aborted) return Promise.reject(abortedError());
  return new Promise<T | typeof timedOut>((resolve, reject) => {
    const cleanup = () => {
      timer.clear();
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      cleanup();
      reject(abortedError());
    };
    const timer = setLongTimeout(() => {
      cleanup();
      resolve(timedOut);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
