import { randomUUID } from 'node:crypto';
import { credentialFingerprint } from '../../src/maia/maia-token-crypto';
import { eventually } from '../support/eventually';
import {
  apiRequests,
  failureOf,
  pace,
  seed,
  type HarnessOptions,
  type MaiaHarness,
  useMaiaSuite,
} from './support/maia-harness';

/**
 * The token: one request for many concurrent callers, one for two replicas sharing a real Redis (where it
 * is stored sealed), one refresh after a revocation, one replay after a 401, and the failure modes of the
 * token endpoint (down, hanging, refusing the credentials).
 */

const suite = useMaiaSuite();
const { watch } = suite;
const harness = (options: HarnessOptions = {}): Promise<MaiaHarness> => suite.harness({ ...options });

function tokenRequests(h: MaiaHarness): number {
  return h.sent.filter((r) => r.url === suite.maia.tokenUrl).length;
}

describe('one token for many callers', () => {
  it('50 concurrent calls on a cold start make exactly 1 token request', async () => {
    // Timing is not the subject: a cold worker on a busy machine may take over a second per attempt.
    const h = await harness({ env: { MAIA_ATTEMPT_TIMEOUT_MS: '5000', MAIA_DEADLINE_MS: '15000' } });
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        watch.observe<unknown>(
          i % 2 === 0 ? h.api.listProjects() : h.api.getExecution(seed.analytics, seed.historyRun),
        ),
      ),
    );
    expect(results).toHaveLength(50);
    expect(await suite.maia.count('token')).toBe(1);
    expect(await suite.maia.count('listProjects', 200)).toBe(25);
    expect(await suite.maia.count('getExecution', 200)).toBe(25);
    expect(await suite.maia.apiCount(401)).toBe(0);
  });

  it('two replicas sharing one real Redis make 1 token request between them, stored sealed', async () => {
    const redisPrefix = `test:${randomUUID()}:`;
    const [a, b] = await Promise.all([harness({ redisPrefix }), harness({ redisPrefix })]);
    expect(a.redis.available && b.redis.available).toBe(true);

    await Promise.all(
      Array.from({ length: 40 }, (_, i) => watch.observe((i % 2 === 0 ? a : b).api.listProjects())),
    );
    expect(await suite.maia.count('token')).toBe(1);
    expect(await suite.maia.count('listProjects', 200)).toBe(40);
    expect(tokenRequests(a) + tokenRequests(b)).toBe(1);
    // Both replicas used the one token.
    const used = new Set([...apiRequests(a), ...apiRequests(b)].map((r) => r.token));
    expect(used.size).toBe(1);

    // In Redis: sealed, not the token in any readable form.
    const token = [...used][0] as string;
    const key = `${redisPrefix}maia:token:${credentialFingerprint(suite.maia.clientId, suite.maia.tokenUrl, 'https://api.matillion.com')}`;
    const stored = await a.redis.get(key);
    expect(stored).toEqual(expect.stringMatching(/^v1\./));
    expect(stored).not.toContain(token);
    expect(Buffer.from(stored!.slice(3), 'base64url').toString('latin1')).not.toContain(token);
    expect(await a.redis.remainingTtlMs(key)).toBeGreaterThan(0);

    // A third replica that starts later adopts it without asking the endpoint.
    const c = await harness({ redisPrefix });
    await c.api.listProjects();
    expect(await suite.maia.count('token')).toBe(1);
    expect(tokenRequests(c)).toBe(0);
  });

  it('a replica with another client secret cannot read the shared token and fetches its own', async () => {
    const redisPrefix = `test:${randomUUID()}:`;
    const a = await harness({ redisPrefix });
    await a.api.listProjects();
    const b = await harness({
      redisPrefix,
      env: { MAIA_CLIENT_ID: 'second-client', MAIA_CLIENT_SECRET: 'second-secret' },
    });
    await b.api.listProjects();
    expect(await suite.maia.count('token')).toBe(2);
  });
});

describe('401 and revocation', () => {
  it('tokens revoked in the middle of steady traffic: 0 caller errors and 1 refresh', async () => {
    const h = await harness();
    await h.api.listProjects();
    const errors: unknown[] = [];
    let calls = 0;
    const stopAtMs = Date.now() + 1500;
    const worker = async (i: number) => {
      while (Date.now() < stopAtMs) {
        try {
          calls++;
          await watch.observe<unknown>(
            i % 2 === 0 ? h.api.listProjects() : h.api.getExecutionStatus(seed.analytics, seed.historyRun),
          );
        } catch (error) {
          errors.push(error);
        }
        await pace(10);
      }
    };
    const traffic = Promise.all(Array.from({ length: 8 }, (_, i) => worker(i)));
    // Revoked once traffic is flowing on the first token, with time left for it to meet the revocation.
    await eventually(() => expect(apiRequests(h).length).toBeGreaterThan(20));
    await suite.maia.revokeTokens();
    await traffic;

    expect(errors).toEqual([]);
    expect(calls).toBeGreaterThan(50);
    expect(await suite.maia.apiCount(401)).toBeGreaterThanOrEqual(1); // the revocation did hit callers
    expect(await suite.maia.count('token')).toBe(2); // the first token and exactly one refresh
  });

  it('revoked with two replicas on one Redis: one refresh for the fleet', async () => {
    const redisPrefix = `test:${randomUUID()}:`;
    const [a, b] = await Promise.all([harness({ redisPrefix }), harness({ redisPrefix })]);
    await Promise.all([a.api.listProjects(), b.api.listProjects()]);
    expect(await suite.maia.count('token')).toBe(1);
    await suite.maia.revokeTokens();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => watch.observe((i % 2 === 0 ? a : b).api.listProjects())),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await suite.maia.count('token')).toBe(2);
  });

  it('a second 401 fails with UPSTREAM_AUTH_FAILED after exactly one refresh and one replay', async () => {
    const h = await harness();
    await h.api.listProjects();
    await suite.maia.resetCounters();
    await suite.maia.addFault({ route: 'getExecution', status: 401 });
    const failure = await failureOf(watch.observe(h.api.getExecution(seed.analytics, seed.historyRun)));
    expect(failure.code).toBe('UPSTREAM_AUTH_FAILED');
    expect(await suite.maia.count('getExecution')).toBe(2);
    expect(await suite.maia.count('token')).toBe(1);
  });
});

describe('token endpoint failures', () => {
  it('endpoint down and no token: UPSTREAM_AUTH_UNAVAILABLE at once, asked again at most every interval', async () => {
    const h = await harness({ env: { MAIA_TOKEN_RETRY_INTERVAL_MS: '5000' } });
    await suite.maia.addFault({ route: 'token', status: 503 });
    for (let i = 0; i < 4; i++) {
      const startedMs = Date.now();
      const failure = await failureOf(watch.observe(h.api.listProjects()));
      expect(failure.code).toBe('UPSTREAM_AUTH_UNAVAILABLE');
      expect(Date.now() - startedMs).toBeLessThan(2000);
      await pace(100);
    }
    expect(await suite.maia.count('token')).toBe(1);
    expect(await suite.maia.count('listProjects')).toBe(0);
  });

  it('a hanging endpoint fails the caller within 2 s; it recovers after the pause', async () => {
    const h = await harness({
      env: { MAIA_TOKEN_TIMEOUT_MS: '2000', MAIA_TOKEN_RETRY_INTERVAL_MS: '300', MAIA_DEADLINE_MS: '10000' },
    });
    const fault = await suite.maia.addFault({ route: 'token', latencyMs: 5000 });
    const startedMs = Date.now();
    const failure = await failureOf(watch.observe(h.api.listProjects()));
    const elapsedMs = Date.now() - startedMs;
    expect(failure.code).toBe('UPSTREAM_AUTH_UNAVAILABLE');
    expect(elapsedMs).toBeGreaterThanOrEqual(1900);
    expect(elapsedMs).toBeLessThan(2800); // 2 s plus scheduling slack on a busy machine

    await suite.maia.removeFault(fault);
    // Calls fail fast until the hanging request has ended and its pause is over; then one new request.
    await eventually(() => expect(h.api.listProjects()).resolves.toMatchObject({ total: 5 }));
    expect(tokenRequests(h)).toBe(2);
  });

  it('rejected credentials: UPSTREAM_AUTH_FAILED, one attempt a minute, the secret in no message', async () => {
    const wrongSecret = `wrong-${randomUUID()}`;
    watch.addSecret(wrongSecret);
    const h = await harness({ env: { MAIA_CLIENT_SECRET: wrongSecret } });
    for (let i = 0; i < 3; i++) {
      const failure = await failureOf(watch.observe(h.api.listProjects()));
      expect(failure.code).toBe('UPSTREAM_AUTH_FAILED');
      expect(failure.message).toBe('Maia rejected the gateway credentials');
    }
    expect(await suite.maia.count('token')).toBe(1);
    expect(await suite.maia.count('token', 401)).toBe(1);
  });

  it('rejected credentials pause every replica sharing Redis', async () => {
    const wrongSecret = `wrong-${randomUUID()}`;
    watch.addSecret(wrongSecret);
    const redisPrefix = `test:${randomUUID()}:`;
    const env = { MAIA_CLIENT_SECRET: wrongSecret };
    const a = await harness({ redisPrefix, env });
    expect((await failureOf(a.api.listProjects())).code).toBe('UPSTREAM_AUTH_FAILED');
    const b = await harness({ redisPrefix, env });
    expect((await failureOf(b.api.listProjects())).code).toBe('UPSTREAM_AUTH_FAILED');
    expect(await suite.maia.count('token')).toBe(1);
  });
});

describe('secrets', () => {
  it('logged lines at every level and errors carry neither a client secret nor any token', () => {
    expect(watch.issuedTokens.size).toBeGreaterThan(3);
    expect(watch.errors.length).toBeGreaterThan(5);
    for (const level of ['debug', 'log', 'warn', 'error']) {
      expect(watch.lines.some((line) => line.startsWith(`${level}:`))).toBe(true);
    }
    expect(watch.leaks()).toEqual([]);
  });
});
