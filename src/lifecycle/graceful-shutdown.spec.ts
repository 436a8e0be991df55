import { type INestApplication, Logger } from '@nestjs/common';
import { loadConfig } from '../config';
import { installGracefulShutdown } from './graceful-shutdown';
import { LifecycleService } from './lifecycle.service';

/** A Nest application double: only what graceful shutdown uses; anything else fails the test. */
function fakeApp(close: () => Promise<void>) {
  const calls: string[] = [];
  const stopCallbacks: (() => void)[] = [];
  const lifecycle = {
    drain: jest.fn(async (reason: string) => {
      calls.push(`drain:${reason}`);
    }),
    onStop: (callback: () => void) => stopCallbacks.push(callback),
  };
  const app = {
    get: (token: unknown) => {
      if (token !== LifecycleService) throw new Error(`unexpected app.get(${String(token)})`);
      return lifecycle;
    },
    close: jest.fn(async () => {
      calls.push('close');
      await close();
      for (const callback of stopCallbacks) callback();
    }),
  };
  return { app: app as unknown as INestApplication, calls };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('installGracefulShutdown', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn']));
  const config = loadConfig({ SHUTDOWN_GRACE_MS: '1000', SHUTDOWN_DRAIN_DELAY_MS: '0' });

  it('drains before closing the application, then exits 0 and removes its handlers', async () => {
    const { app, calls } = fakeApp(async () => undefined);
    const exit = jest.fn();
    const before = process.listenerCount('SIGUSR2');
    installGracefulShutdown(app, config, { signals: ['SIGUSR2'], exit });
    expect(process.listenerCount('SIGUSR2')).toBe(before + 1);

    process.emit('SIGUSR2', 'SIGUSR2');
    await flush();
    await flush();
    expect(calls).toEqual(['drain:SIGUSR2', 'close']);
    expect(exit).toHaveBeenCalledWith(0);
    expect(process.listenerCount('SIGUSR2')).toBe(before);
  });

  it('exits 1 at the hard deadline when a hook hangs, and at once on a second signal', async () => {
    jest.useFakeTimers();
    try {
      const { app } = fakeApp(() => new Promise(() => undefined)); // close() never ends
      const exit = jest.fn();
      const uninstall = installGracefulShutdown(app, config, { signals: ['SIGUSR2'], exit });
      process.emit('SIGUSR2', 'SIGUSR2');
      await Promise.resolve();
      process.emit('SIGUSR2', 'SIGUSR2');
      expect(exit).toHaveBeenCalledWith(1); // the second signal
      exit.mockClear();
      jest.advanceTimersByTime(1000 + 5000 - 1);
      expect(exit).not.toHaveBeenCalled();
      jest.advanceTimersByTime(1);
      expect(exit).toHaveBeenCalledWith(1); // grace + hooks budget elapsed
      uninstall();
    } finally {
      jest.useRealTimers();
    }
  });
});
