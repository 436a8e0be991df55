/**
 * The longest delay Node's timers take: a larger one (a JWT valid for a month, a huge Retry-After)
 * overflows, fires after 1 ms and only warns (`TimeoutOverflowWarning`).
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** A timer set by `setLongTimeout`: cleared like a Node timer, whatever its length. */
export interface LongTimeout {
  clear(): void;
  /** Lets the process exit while this timer waits (as `Timeout.unref()`). Returns the timer. */
  unref(): LongTimeout;
}

const NEVER: LongTimeout = { clear: () => undefined, unref: () => NEVER };

/**
 * `setTimeout` for any delay computed at run time. Delays past `MAX_TIMER_DELAY_MS` are waited in steps,
 * so the callback runs when it is due, never early; negative or non-finite delays run it on the next
 * timer tick (`Infinity` never runs it, as a delay that never ends).
 */
export function setLongTimeout(callback: () => void, delayMs: number): LongTimeout {
  if (delayMs === Infinity) return NEVER;
  const dueAtMs = Date.now() + (Number.isFinite(delayMs) ? Math.max(0, delayMs) : 0);
  let timer: NodeJS.Timeout | undefined;
  let unrefed = false;
  const arm = (): void => {
    const remainingMs = dueAtMs - Date.now();
    if (remainingMs > MAX_TIMER_DELAY_MS) {
      timer = setTimeout(arm, MAX_TIMER_DELAY_MS);
    } else {
      timer = setTimeout(callback, Math.max(0, remainingMs));
    }
    if (unrefed) timer.unref();
  };
  arm();
  const handle: LongTimeout = {
    clear: () => clearTimeout(timer),
    unref: () => {
      unrefed = true;
      timer?.unref();
      return handle;
    },
  };
  return handle;
}
