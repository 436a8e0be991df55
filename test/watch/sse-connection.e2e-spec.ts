import { LifecycleService } from '../../src/lifecycle/lifecycle.service';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { openSse, startRunOnEmulator, waitFor, type SseConnection } from './support/watch-clients';

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const BACKFILL = 'FOLDER/long_backfill.orch.yaml'; // 10 min: still running for the whole suite

/**
 * `Connection` is a hop-by-hop header: the server (Node) decides it from the request and from the state of
 * the gateway, not the event stream. So a stream answers `keep-alive` to an HTTP/1.1 client as any answer
 * does, and `close` once the gateway drains (ADR 0022), like every other answer then.
 */
describe('server-sent events and the Connection header', () => {
  let emulator: EmulatorFixture;
  let gateway: InProcessGateway;
  const streams: SseConnection[] = [];

  beforeAll(async () => {
    emulator = await startEmulatorFixture();
    gateway = await startGateway(gatewayEnv(emulator, { REDIS_URL: 'redis://127.0.0.1:6379' }));
  });
  afterAll(async () => {
    for (const stream of streams) stream.close();
    await gateway?.close();
    await emulator?.close();
  });

  let streaming: SseConnection;

  const open = async (headers: Record<string, string> = {}): Promise<SseConnection> => {
    const id = await startRunOnEmulator(emulator.url, emulator, PROJECT, BACKFILL);
    const sse = openSse(
      `${gateway.url}/api/v1/projects/${PROJECT}/pipeline-executions/${id}/events`,
      headers,
    );
    streams.push(sse);
    return sse;
  };

  it('streams, and keeps an HTTP/1.1 connection alive as Node does for any answer', async () => {
    streaming = await open();
    expect({ status: await streaming.status, body: streaming.body() }).toEqual({
      status: 200,
      body: expect.any(String),
    });
    const headers = await streaming.headers;
    expect(headers['content-type']).toMatch(/^text\/event-stream/);
    expect(headers.connection).toBe('keep-alive');
    await waitFor(() => streaming.events.length >= 1);
    expect(JSON.parse(streaming.events[0].data)).toMatchObject({ kind: 'SNAPSHOT' });
  });

  it('answers a client that asks for Connection: close with close, and still streams', async () => {
    const sse = await open({ connection: 'close' });
    expect(await sse.status).toBe(200);
    expect((await sse.headers).connection).toBe('close');
    await waitFor(() => sse.events.length >= 1);
    expect(JSON.parse(sse.events[0].data)).toMatchObject({ kind: 'SNAPSHOT' });
  });

  it('while the gateway drains: an open stream ends with SHUTTING_DOWN, a new one is refused with close', async () => {
    gateway.app.get(LifecycleService).beginShutdown('test: drain');
    await streaming.ended;
    const last = streaming.events.at(-1);
    expect(last?.event).toBe('error');
    expect(JSON.parse(last?.data ?? '{}')).toMatchObject({ code: 'SHUTTING_DOWN' });

    const refused = await open();
    expect(await refused.status).toBe(503);
    expect((await refused.headers).connection).toBe('close');
  });
});
