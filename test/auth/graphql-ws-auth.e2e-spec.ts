import { connect } from 'node:net';
import { Logger } from '@nestjs/common';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { KEYS, PROJECTS, startSecuredWorld, type SecuredWorld } from './support/secured-gateway';
import { wsCall } from './support/probes';

/**
 * graphql-ws authentication beyond the matrix: JWT claims decide scopes and projects on sockets too, a
 * socket is closed with 4403 the moment its token expires, silent sockets and oversized frames are cut.
 */
describe('graphql-ws authentication', () => {
  let world: SecuredWorld;
  let wsUrl: string;

  beforeAll(async () => {
    // Real time: the long backfill keeps running for the whole suite.
    world = await startSecuredWorld({}, 1);
    wsUrl = `${world.url.replace(/^http/, 'ws')}/graphql`;
  });
  afterAll(async () => {
    await world?.close();
  });

  async function startLongRun(): Promise<string> {
    const response = await fetch(`${world.url}/api/v1/projects/${PROJECTS.analytics}/pipeline-executions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEYS.admin },
      body: JSON.stringify({ pipelineName: 'FOLDER/long_backfill.orch.yaml', environmentName: 'Dev' }),
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { pipelineExecutionId: string }).pipelineExecutionId;
  }

  it('takes scopes and projects from the JWT claims', async () => {
    const token = await world.jwt({ scope: 'read', maia_projects: [PROJECTS.analytics] });
    const params = { authorization: `Bearer ${token}` };
    const executionId = await startLongRun();
    const query =
      'subscription ($p: ID!, $e: ID!) { pipelineExecutionUpdated(projectId: $p, executionId: $e) { execution { id status } } }';
    const own = await wsCall(world.url, params, query, { p: PROJECTS.analytics, e: executionId });
    expect(own.code).toBe('OK');
    const other = await wsCall(world.url, params, query, { p: PROJECTS.marketing, e: executionId });
    expect(other.code).toBe('NOT_FOUND');
  });

  it('closes a socket with 4403 when its token expires, while its subscription is live', async () => {
    const executionId = await startLongRun();
    const lifetimeSeconds = 3;
    const token = await world.jwt({}, { expiresInSeconds: lifetimeSeconds });
    // The token's own exp: reckoned from the clock after signing, it was a second late whenever the signing
    // straddled a second's boundary.
    const { exp } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as {
      exp: number;
    };
    const expiresAtMs = exp * 1000;
    const events: string[] = [];
    let closed: { code: number; reason: string; atMs: number } | undefined;
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      on: {
        closed: (event) => {
          const e = event as { code: number; reason: string };
          closed = { code: e.code, reason: e.reason, atMs: Date.now() };
        },
      },
    });
    try {
      await new Promise<void>((resolve) => {
        client.subscribe(
          {
            query:
              'subscription ($p: ID!, $e: ID!) { pipelineExecutionUpdated(projectId: $p, executionId: $e) { execution { status } } }',
            variables: { p: PROJECTS.analytics, e: executionId },
          },
          { next: (v) => events.push(JSON.stringify(v)), error: () => resolve(), complete: () => resolve() },
        );
      });
    } finally {
      await client.dispose();
    }
    expect(events.length).toBeGreaterThan(0); // it was live before the token ran out
    expect(closed).toMatchObject({ code: 4403, reason: 'Token expired' });
    // Closed at expiry: not before, and promptly after (generous for a loaded machine).
    expect(closed!.atMs).toBeGreaterThanOrEqual(expiresAtMs - 50);
    expect(closed!.atMs - expiresAtMs).toBeLessThan(2_000);
  });

  it('runs socket operations as their caller: an idempotency key over graphql-ws belongs to whoever sent it', async () => {
    const mutation =
      'mutation X($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId replayed } }';
    const input = {
      projectId: PROJECTS.analytics,
      pipelineName: 'transform/daily_revenue.tran.yaml',
      environmentName: 'Dev',
      idempotencyKey: `ws-${Date.now()}`,
    };
    const run = async (key: string) => {
      const outcome = await wsCall(world.url, { 'x-api-key': key }, mutation, { input });
      expect(outcome.code).toBe('OK');
      return (
        JSON.parse(outcome.body) as {
          data: { executePipeline: { pipelineExecutionId: string; replayed: boolean } };
        }
      ).data.executePipeline;
    };
    const operator = await run(KEYS.operator);
    expect(await run(KEYS.operator)).toEqual({ ...operator, replayed: true });
    // Another caller's key space: the same key starts a run of its own.
    const admin = await run(KEYS.admin);
    expect(admin.replayed).toBe(false);
    expect(admin.pipelineExecutionId).not.toBe(operator.pipelineExecutionId);
  });

  it('refuses a token that has already expired at connection_init with 4403', async () => {
    const token = await world.jwt({}, { expiresInSeconds: -120 });
    const outcome = await wsCall(world.url, { authorization: `Bearer ${token}` }, '{ __typename }');
    expect(outcome).toMatchObject({ code: 'CLOSED', status: 4403 });
  });

  /** A raw socket speaking graphql-transport-ws, for what the official client will not do. */
  function rawSocket(): Promise<{ socket: WebSocket; closed: Promise<{ code: number; atMs: number }> }> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
      const closed = new Promise<{ code: number; atMs: number }>((done) =>
        socket.once('close', (code) => done({ code, atMs: Date.now() })),
      );
      socket.once('open', () => resolve({ socket, closed }));
      socket.once('error', reject);
    });
  }

  it('cuts a socket that sends an oversized frame (1009) and one that never says who it is (4408)', async () => {
    // Spies that call through: the client's mistake is one warning in the gateway's log, not an
    // "Internal error" with a stack on the console.
    const consoleError = jest.spyOn(console, 'error');
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const big = await rawSocket();
    big.socket.send(
      JSON.stringify({
        type: 'connection_init',
        payload: { 'x-api-key': KEYS.admin, junk: 'x'.repeat(100 * 1024) },
      }),
    );
    expect((await big.closed).code).toBe(1009);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('Max payload size exceeded'));
    expect(consoleError).not.toHaveBeenCalled();
    consoleError.mockRestore();
    warn.mockRestore();

    const silent = await rawSocket();
    const openedAtMs = Date.now();
    const { code, atMs } = await silent.closed;
    expect(code).toBe(4408);
    expect(atMs - openedAtMs).toBeLessThan(6_000);
  });

  it('closes sockets of the legacy subscriptions-transport-ws protocol with 4406 at once (nothing would serve them)', async () => {
    // A raw upgrade: a real client would give up on the missing subprotocol, a hostile one would not.
    const { port } = new URL(world.url);
    const received = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          'GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-ws\r\n\r\n',
        );
      });
      // Done once the server's close frame is in (ws then waits for ours, up to its closing timeout).
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        const all = Buffer.concat(chunks);
        const body = all.indexOf('\r\n\r\n');
        if (body >= 0 && all.length >= body + 4 + 4) {
          socket.destroy();
          resolve(all);
        }
      });
      socket.on('error', reject);
      setTimeout(() => socket.destroy(new Error('the server sent no close frame')), 3_000);
    });
    const text = received.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 101/);
    // The close frame: opcode 0x88, then the status code 4406 (0x11 0x36).
    const frame = received.subarray(received.indexOf('\r\n\r\n') + 4);
    expect(frame[0]).toBe(0x88);
    expect(frame.readUInt16BE(2)).toBe(4406);
  });

  it('counts a wrong key at connection_init like any failed attempt: the socket closes with 4403', async () => {
    const outcome = await wsCall(world.url, { 'x-api-key': 'nope' }, '{ __typename }');
    expect(outcome).toMatchObject({ code: 'CLOSED', status: 4403 });
  });
});
