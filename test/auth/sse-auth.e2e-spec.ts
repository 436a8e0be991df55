import { eventually, holdsFor } from '../support/eventually';
import { KEYS, PROJECTS, startSecuredWorld, type SecuredWorld } from './support/secured-gateway';

/**
 * Server-sent events live no longer than the credentials that opened them, like graphql-ws sockets: when
 * the JWT expires the stream gets an `UNAUTHENTICATED` error event and ends.
 */
describe('SSE and credential expiry', () => {
  let world: SecuredWorld;

  beforeAll(async () => {
    world = await startSecuredWorld({}, 1); // real time: the backfill outlives the token
  });
  afterAll(async () => {
    await world?.close();
  });

  it('ends a live stream with an UNAUTHENTICATED event when its JWT expires', async () => {
    const started = await fetch(`${world.url}/api/v1/projects/${PROJECTS.analytics}/pipeline-executions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEYS.admin },
      body: JSON.stringify({ pipelineName: 'FOLDER/long_backfill.orch.yaml', environmentName: 'Dev' }),
    });
    expect(started.status).toBe(201);
    const { pipelineExecutionId } = (await started.json()) as { pipelineExecutionId: string };

    const lifetimeSeconds = 3;
    const token = await world.jwt({}, { expiresInSeconds: lifetimeSeconds });
    const expiresAtMs = Math.floor(Date.now() / 1000 + lifetimeSeconds) * 1000;
    const response = await fetch(
      `${world.url}/api/v1/projects/${PROJECTS.analytics}/pipeline-executions/${pipelineExecutionId}/events`,
      { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(20_000) },
    );
    expect(response.status).toBe(200);
    const body = await response.text(); // resolves only when the gateway ends the stream
    const endedAtMs = Date.now();

    expect(body).toMatch(/^id: \d+\ndata: .*"status":"RUNNING"/m); // it was live before the token ran out
    const errors = [...body.matchAll(/^event: error\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]));
    expect(errors).toEqual([{ code: 'UNAUTHENTICATED', message: 'Credentials expired' }]);
    expect(endedAtMs).toBeGreaterThanOrEqual(expiresAtMs - 1_000); // the JWT's leeway is not stretched early
    expect(endedAtMs).toBeLessThan(expiresAtMs + 5_000);
  });

  it('keeps a stream open for a JWT valid longer than a timer can wait (~24.8 days)', async () => {
    const started = await fetch(`${world.url}/api/v1/projects/${PROJECTS.analytics}/pipeline-executions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEYS.admin },
      body: JSON.stringify({ pipelineName: 'FOLDER/long_backfill.orch.yaml', environmentName: 'Dev' }),
    });
    expect(started.status).toBe(201);
    const { pipelineExecutionId } = (await started.json()) as { pipelineExecutionId: string };

    // 30 days: past setTimeout's 2^31-1 ms, which would fire after 1 ms and end the stream at once.
    const token = await world.jwt({}, { expiresInSeconds: 30 * 24 * 3600 });
    const abort = new AbortController();
    const response = await fetch(
      `${world.url}/api/v1/projects/${PROJECTS.analytics}/pipeline-executions/${pipelineExecutionId}/events`,
      { headers: { authorization: `Bearer ${token}` }, signal: abort.signal },
    );
    expect(response.status).toBe(200);
    let body = '';
    let ended = false;
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        body += decoder.decode(chunk, { stream: true });
      }
      ended = true;
    })().catch(() => undefined); // aborted by the test at the end
    try {
      await eventually(() => expect(body).toMatch(/^id: \d+\ndata: .*"status":"RUNNING"/m), {
        timeoutMs: 10_000,
      });
      // The window is the assertion: the stream stays live, with no error event, for a while.
      await holdsFor(() => {
        expect(body).not.toContain('event: error');
        expect(ended).toBe(false);
      }, 1_500);
    } finally {
      abort.abort();
      await reading;
    }
  });
});
