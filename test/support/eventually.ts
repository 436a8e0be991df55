/**
 * Waits for a condition instead of for time. `check` runs every `intervalMs` until it neither throws (an
 * `expect` inside it passes) nor returns `false`; its value is returned. After `timeoutMs` the last
 * failure is thrown, so the test reports what was still wrong rather than a bare time-out.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 5_000, intervalMs = 10 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<Exclude<T, false>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let failure: unknown;
    try {
      const value = await check();
      if (value !== false) return value as Exclude<T, false>;
      failure = new Error(`the condition was still false after ${timeoutMs} ms`);
    } catch (error) {
      failure = error;
    }
    if (Date.now() >= deadline) throw failure;
    await new Promise<void>((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * The negative twin of `eventually`: `check` must keep holding for the whole window (no second poll, no
 * further message). Only for assertions that something does NOT happen, where the window is the condition.
 */
export async function holdsFor(
  check: () => void | Promise<void>,
  windowMs: number,
  { intervalMs = 10 }: { intervalMs?: number } = {},
): Promise<void> {
  const end = Date.now() + windowMs;
  do {
    await check();
    await new Promise<void>((resolve) => setTimeout(resolve, intervalMs));
  } while (Date.now() < end);
  await check();
}
