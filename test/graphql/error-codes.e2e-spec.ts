import { gql } from '../api/support/api-client';
import { wsCall } from '../auth/support/probes';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';

/**
 * GraphQL's own failures keep their codes on both transports: a document that does not parse is
 * GRAPHQL_PARSE_FAILED, one that does not fit the schema GRAPHQL_VALIDATION_FAILED, a bad variable value
 * BAD_USER_INPUT; none of them reaches Maia.
 */
describe('parse, validation and input errors over HTTP and graphql-ws', () => {
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;

  beforeAll(async () => {
    maia = await startEmulatorFixture();
    gateway = await startGateway(gatewayEnv(maia, { AUTH_DISABLED: 'true' }));
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
  });
  beforeEach(() => maia.resetCounters());

  const FEED = 'subscription ($p: ID!) { pipelineExecutionEvents(projectId: $p) { kind } }';

  it.each([
    ['GRAPHQL_PARSE_FAILED', '{ projects { total }', 'subscription { pipelineExecutionEvents('],
    ['GRAPHQL_VALIDATION_FAILED', '{ projects { nope } }', 'subscription { nope }'],
  ])('%s on HTTP (400) and graphql-ws alike', async (code, httpDocument, wsDocument) => {
    const http = await gql(gateway.url, httpDocument);
    expect(http.status).toBe(400);
    expect(http.errors?.[0].extensions).toEqual({ code });
    expect((await wsCall(gateway.url, {}, wsDocument)).code).toBe(code);
    expect(await maia.apiCount()).toBe(0);
  });

  it('a variable of the wrong type stays BAD_USER_INPUT on both', async () => {
    const http = await gql(gateway.url, 'query ($s: Int!) { projects(size: $s) { total } }', { s: 'ten' });
    expect(http.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await wsCall(gateway.url, {}, FEED, { p: { not: 'an id' } })).code).toBe('BAD_USER_INPUT');
    expect(await maia.apiCount()).toBe(0);
  });
});
