import { WakeUpRegistry } from './wake-up.registry';

describe('WakeUpRegistry', () => {
  it('wakes every waiter of a subject with the news, and only that subject', async () => {
    const registry = new WakeUpRegistry<string>();
    const a1 = registry.next('a', 60_000);
    const a2 = registry.next('a', 60_000);
    const b = registry.next('b', 1);
    registry.wake('a', 'done');
    expect(await Promise.all([a1, a2])).toEqual(['done', 'done']);
    expect(await b).toBeUndefined();
    expect(registry.size).toBe(0);
  });

  it('answers undefined after the timeout, and forgets the waiter', async () => {
    const registry = new WakeUpRegistry<string>();
    const waiting = registry.next('a', 5);
    expect(registry.size).toBe(1);
    expect(await waiting).toBeUndefined();
    expect(registry.size).toBe(0);
    registry.wake('a', 'late'); // nobody left to wake: no error
  });
});
