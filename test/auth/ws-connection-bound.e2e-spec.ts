import WebSocket from 'ws';
import { eventually } from '../support/eventually';
import { KEYS, startSecuredWorld, type SecuredWorld } from './support/secured-gateway';

const MAX_PER_CLIENT = 3;

type Outcome = { acked: true; socket: WebSocket } | { acked: false; code: number; reason: string };

/** Opens a graphql-transport-ws socket and says who it is; resolves on the ack or on the close. */
function openSocket(wsUrl: string, connectionParams: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    socket.once('open', () =>
      socket.send(JSON.stringify({ type: 'connection_init', payload: connectionParams })),
    );
    socket.on('message', (data: Buffer) => {
      if ((JSON.parse(data.toString('utf8')) as { type: string }).type === 'connection_ack') {
        resolve({ acked: true, socket });
      }
    });
    socket.once('close', (code, reason) => resolve({ acked: false, code, reason: reason.toString() }));
    socket.once('error', reject);
  });
}

/**
 * `GRAPHQL_WS_MAX_CONNECTIONS_PER_CLIENT`: one authenticated client holds at most that many graphql-ws
 * connections on a replica; the next closes with 4429 while other clients connect as usual, and a closed
 * connection frees its place.
 */
describe('graphql-ws connections per client', () => {
  let world: SecuredWorld;
  let wsUrl: string;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    world = await startSecuredWorld({ GRAPHQL_WS_MAX_CONNECTIONS_PER_CLIENT: String(MAX_PER_CLIENT) });
    wsUrl = `${world.url.replace(/^http/, 'ws')}/graphql`;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.terminate();
    await world?.close();
  });

  const accepted = (outcome: Outcome): WebSocket => {
    if (!outcome.acked) throw new Error(`refused with ${outcome.code} ${outcome.reason}`);
    sockets.push(outcome.socket);
    return outcome.socket;
  };

  it('closes the connection over the bound with 4429, and only for that client', async () => {
    const reader = { 'x-api-key': KEYS.reader };
    const held: WebSocket[] = [];
    for (let i = 0; i < MAX_PER_CLIENT; i += 1) held.push(accepted(await openSocket(wsUrl, reader)));

    expect(await openSocket(wsUrl, reader)).toEqual({
      acked: false,
      code: 4429,
      reason: 'Too many connections for this client',
    });
    // Another client is not affected, with a key or a JWT.
    accepted(await openSocket(wsUrl, { 'x-api-key': KEYS.operator }));
    accepted(await openSocket(wsUrl, { authorization: `Bearer ${await world.jwt()}` }));

    // A closed connection gives its place back.
    held[0].close(1000);
    await eventually(async () => accepted(await openSocket(wsUrl, reader)), { timeoutMs: 5_000 });
    expect(await openSocket(wsUrl, reader)).toMatchObject({ acked: false, code: 4429 });
  });
});
