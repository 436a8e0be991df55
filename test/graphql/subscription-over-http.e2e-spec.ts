import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually } from '../support/eventually';
import { gatewayEnv } from '../support/gateway-env';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { gql, seed } from '../api/support/api-client';

/** pino's numeric levels: 50 is error, 60 fatal. */
const ERROR_LEVEL = 50;

function errorLines(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .filter((line) => {
      try {
        return (JSON.parse(line) as { level?: number }).level! >= ERROR_LEVEL;
      } catch {
        return false; // a half-written last line
      }
    });
}

/**
 * A subscription POSTed over HTTP is the client's mistake: 400 BAD_USER_INPUT saying how to subscribe,
 * nothing run, and no error-level log line (any read key could otherwise fill the error log).
 */
describe('a subscription sent over HTTP', () => {
  let maia: EmulatorFixture;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    maia = await startEmulatorFixture({ timeScale: 0.05 });
    gateway = await startGatewayProcess(gatewayEnv(maia, { LOG_LEVEL: 'info' }));
  });
  afterAll(async () => {
    await gateway?.stop('SIGTERM');
    await maia?.close();
  });

  const subscription = `subscription ($p: ID!, $e: ID!) {
    pipelineExecutionUpdated(projectId: $p, executionId: $e) { kind execution { id status } } }`;
  const variables = { p: seed.analytics, e: '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b' };

  it('answers 400 BAD_USER_INPUT naming graphql-ws and SSE, for every request, without an error log', async () => {
    await maia.resetCounters();
    const before = gateway.output().length;
    for (let i = 0; i < 5; i++) {
      const result = await gql(gateway.url, subscription, variables);
      expect(result.status).toBe(400);
      expect(result.data ?? null).toBeNull();
      expect(result.errors).toHaveLength(1);
      expect(result.errors![0].extensions).toEqual({ code: 'BAD_USER_INPUT' });
      expect(result.errors![0].message).toMatch(/graphql-ws/);
      expect(result.errors![0].message).toMatch(/SSE/);
    }
    // A query on the same connection after it works (the control), and its log line shows up.
    const ok = await gql(gateway.url, '{ projects { total } }');
    expect(ok.status).toBe(200);
    await eventually(() => expect(gateway.output().length).toBeGreaterThan(before));
    expect(errorLines(gateway.output().slice(before))).toEqual([]);
    expect(await maia.count('getExecution')).toBe(0);
    expect(await maia.count('getExecutionStatus')).toBe(0);
  });

  it('answers the same for a subscription among several operations, picked by operationName', async () => {
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `query Projects { projects { total } } ${subscription.replace('subscription', 'subscription Watch')}`,
        operationName: 'Watch',
        variables,
      }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });
});
