import { createHash } from 'node:crypto';
import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { createGateway } from '../../src/bootstrap';
import { loadConfig } from '../../src/config';
import { LifecycleService } from '../../src/lifecycle/lifecycle.service';
import { startEmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway } from '../support/gateway-inprocess';
import { opsEnv, startInProcessGateway } from './ops-harness';
import { parsePrometheusText, valueOf } from './prometheus-text';

describe('health probes', () => {
  const apps: NestFastifyApplication[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close().catch(() => undefined);
  });

  it('answers live and ready (200) with Redis up and Maia not yet contacted', async () => {
    const { app, url } = await startInProcessGateway(opsEnv({ REDIS_URL: 'redis://127.0.0.1:6379' }));
    apps.push(app);

    const live = await fetch(`${url}/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toMatchObject({ status: 'ok' });

    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as Record<string, Record<string, Record<string, unknown>>>;
    expect(body.status).toBe('ok');
    expect(body.details.lifecycle).toEqual({ status: 'up', phase: 'ready' });
    expect(body.details.redis).toMatchObject({ status: 'up', state: 'ok' });
    expect(body.details.maia.status).toBe('up');
  });

  it('stays ready (200) but says degraded when Redis does not answer', async () => {
    // Nothing listens on port 9 (discard): every PING fails at once, like a Redis outage.
    const { app, url } = await startInProcessGateway(
      opsEnv({ REDIS_URL: 'redis://127.0.0.1:9', REDIS_CONNECT_TIMEOUT_MS: '100' }),
    );
    apps.push(app);

    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as Record<string, Record<string, Record<string, unknown>>>;
    expect(body.status).toBe('degraded');
    expect(body.details.redis).toMatchObject({ status: 'up', state: 'degraded' });
    expect(JSON.stringify(body)).not.toContain('127.0.0.1');
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
  });

  it('stays ready (200) when Maia fails and its breaker opens, and says so without calling Maia', async () => {
    const maia = await startEmulatorFixture();
    try {
      const gateway = await startGateway(
        gatewayEnv(maia, {
          MAIA_BREAKER_FAILURE_THRESHOLD: '2',
          MAIA_MAX_ATTEMPTS: '1',
          MAIA_BREAKER_OPEN_MS: '60000',
        }),
      );
      apps.push(gateway.app);
      const ready = async () => {
        const response = await fetch(`${gateway.url}/health/ready`);
        return {
          status: response.status,
          body: (await response.json()) as {
            status: string;
            details: Record<string, Record<string, unknown>>;
          },
        };
      };
      expect((await ready()).body.details.maia).toMatchObject({
        state: 'ok',
        breaker: 'closed',
        tokenValid: false,
      });

      expect((await fetch(`${gateway.url}/api/v1/projects`)).status).toBe(200);
      expect((await ready()).body.details.maia).toMatchObject({ state: 'ok', tokenValid: true });

      await maia.addFault({ route: 'listEnvironments', status: 503 });
      const projectId = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
      for (let i = 0; i < 2; i += 1) {
        expect((await fetch(`${gateway.url}/api/v1/projects/${projectId}/environments`)).status).toBe(502);
      }
      await maia.resetCounters();
      const probes = await Promise.all([ready(), ready(), ready()]);
      for (const { status, body } of probes) {
        expect(status).toBe(200);
        expect(body.status).toBe('degraded');
        expect(body.details.maia).toMatchObject({ status: 'up', state: 'degraded', breaker: 'open' });
      }
      expect((await maia.counters()).total).toBe(0); // probes never call Maia
      const metrics = parsePrometheusText(await (await fetch(`${gateway.url}/metrics`)).text());
      expect(valueOf(metrics, 'maia_circuit_breaker_state', { state: 'open' })).toBe(1);
      expect(valueOf(metrics, 'maia_circuit_breaker_state', { state: 'closed' })).toBe(0);
    } finally {
      await maia.close();
    }
  });

  it('reports "disabled" for Redis when none is configured', async () => {
    const { app, url } = await startInProcessGateway(opsEnv());
    apps.push(app);
    const body = (await (await fetch(`${url}/health/ready`)).json()) as Record<
      string,
      Record<string, unknown>
    >;
    expect(body.details.redis).toEqual({ status: 'up', state: 'disabled' });
  });

  it('serves probes and metrics without credentials in production, where everything else needs them', async () => {
    const keyHash = createHash('sha256').update('ops-test-key').digest('hex');
    const { app, url } = await startInProcessGateway(
      opsEnv({
        GATEWAY_MODE: 'production',
        AUTH_API_KEYS: JSON.stringify([{ name: 'svc', sha256: keyHash, scopes: ['read'], projects: ['*'] }]),
        RATE_LIMIT_ENABLED: 'true',
        RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '1',
        RATE_LIMIT_BURST: '1',
      }),
    );
    apps.push(app);
    expect((await fetch(`${url}/api/v1/projects`)).status).toBe(401);
    // Many more probes than the anonymous rate limit allows: none is refused.
    for (let i = 0; i < 5; i += 1) {
      expect((await fetch(`${url}/health/live`)).status).toBe(200);
      expect((await fetch(`${url}/health/ready`)).status).toBe(200);
      expect((await fetch(`${url}/metrics`)).status).toBe(200);
    }
  });

  it('is 503 while starting, before the listener is up', async () => {
    const app = await createGateway(loadConfig(opsEnv()));
    apps.push(app);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    const response = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/health/ready' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({
      status: 'error',
      error: { lifecycle: { status: 'down', phase: 'starting' } },
    });
    const live = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/health/live' });
    expect(live.statusCode).toBe(200);
  });

  it('is 503 from the first moment of shutdown while live stays 200', async () => {
    const { app, url } = await startInProcessGateway(opsEnv({ SHUTDOWN_DRAIN_DELAY_MS: '1500' }));
    apps.push(app);
    expect((await fetch(`${url}/health/ready`)).status).toBe(200);

    const drained = app.get(LifecycleService).drain('test');
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ error: { lifecycle: { status: 'down', phase: 'draining' } } });
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    await drained;
    // The listener is closed once drained: new connections are refused.
    await expect(fetch(`${url}/health/live`)).rejects.toThrow();
  });
});
