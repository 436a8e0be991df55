import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import {
  apiRequests,
  clockReaches,
  createMaiaHarness,
  failureOf,
  SecretWatch,
  pace,
  seed,
  type MaiaHarness,
} from './support/maia-harness';

/**
 * Short-lived tokens: under steady traffic no call is ever sent with an expired token, and while the token
 * endpoint fails a still-valid token keeps being used. Slow by nature (real lifetimes); kept in its own
 * file so it runs beside the others.
 */

const watch = new SecretWatch();
let maia: EmulatorFixture;
let h: MaiaHarness | undefined;

beforeAll(async () => {
  watch.install();
  maia = await startEmulatorFixture({ timeScale: 0.02, rateLimitPerMinute: 1_000_000 });
});

afterEach(async () => {
  await h?.close();
  h = undefined;
});

afterAll(async () => {
  await maia?.close();
});

it('a 5 s token lifetime under 20 s of traffic: no call is ever sent with an expired token', async () => {
  await maia.reset();
  await maia.patchConfig({ tokenLifetimeSeconds: 5, rateLimitPerMinute: 1_000_000 });
  h = await createMaiaHarness(maia, { watch });
  const harness = h;
  const errors: unknown[] = [];
  const stopAtMs = Date.now() + 20_000;
  const worker = async (i: number) => {
    while (Date.now() < stopAtMs) {
      try {
        await watch.observe<unknown>(
          i % 2 === 0
            ? harness.api.listProjects()
            : harness.api.getExecution(seed.analytics, seed.historyRun),
        );
      } catch (error) {
        errors.push(error);
      }
      await pace(25);
    }
  };
  await Promise.all(Array.from({ length: 4 }, (_, i) => worker(i)));

  expect(errors).toEqual([]);
  // The emulator answers 401 to an expired token: none was sent.
  expect(await maia.apiCount(401)).toBe(0);
  const sent = apiRequests(harness);
  expect(sent.length).toBeGreaterThan(400);
  // Client side proof too: each request went out before its token's lifetime (counted from when the
  // token was requested) ran out.
  const issuedBy = new Map(harness.issued.map((t) => [t.token, t]));
  for (const request of sent) {
    const token = issuedBy.get(request.token ?? '');
    expect(token).toBeDefined();
    expect(request.atMs).toBeLessThan(token!.requestedAtMs + token!.expiresInSeconds * 1000);
  }
  // Refreshed about once per lifetime (at 4.5 s: the skew is a tenth of 5 s), not per call.
  const tokens = await maia.count('token');
  expect(tokens).toBeGreaterThanOrEqual(4);
  expect(tokens).toBeLessThanOrEqual(6);
}, 40_000);

it('while the token endpoint fails, a still-valid token keeps being used', async () => {
  await maia.reset();
  // 8 s: the window below is 400 ms wide (200 ms with 4 s), room for two calls on a busy machine.
  await maia.patchConfig({ tokenLifetimeSeconds: 8 });
  h = await createMaiaHarness(maia, { watch, env: { MAIA_TOKEN_RETRY_INTERVAL_MS: '5000' } });
  await h.api.listProjects();
  const first = h.issued[0];
  await maia.addFault({ route: 'token', status: 503 });

  // Past the refresh point (7.2 s), before the end of the usable life (7.6 s).
  await clockReaches(first.requestedAtMs + 7_250);
  await expect(watch.observe(h.api.listProjects())).resolves.toMatchObject({ total: 5 });
  await expect(watch.observe(h.api.listProjects())).resolves.toMatchObject({ total: 5 });
  expect(new Set(apiRequests(h).map((r) => r.token))).toEqual(new Set([first.token]));
  expect(await maia.count('token', 503)).toBe(1); // one background attempt, then the pause

  // Once the token is spent, callers fail fast: no new attempt inside the pause.
  await clockReaches(first.requestedAtMs + 7_800);
  const startedMs = Date.now();
  const failure = await failureOf(watch.observe(h.api.listProjects()));
  expect(failure.code).toBe('UPSTREAM_AUTH_UNAVAILABLE');
  expect(Date.now() - startedMs).toBeLessThan(500);
  expect(await maia.count('token')).toBe(2);
  expect(await maia.apiCount(401)).toBe(0);
});

it('no secret in any captured log line or error', () => {
  expect(watch.issuedTokens.size).toBeGreaterThanOrEqual(4);
  expect(watch.lines.some((line) => line.startsWith('warn:'))).toBe(true);
  expect(watch.leaks()).toEqual([]);
});
