import { GraphQLSchemaHost } from '@nestjs/graphql';
import { parse } from 'graphql';
import WebSocket from 'ws';
import { isShareable } from '../../src/graphql/fan-out-subscribe';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { EXECUTION_UPDATED, startRunOnEmulator, subscribe, waitFor, wsClient } from './support/watch-clients';
import { type Client } from 'graphql-ws';

/**
 * Fan-out of one execution's events to many subscribers: subscribers that sent the same document share one
 * execution of it per event, and nothing a subscriber notices changes (its own ids, its own frames in
 * order, documents with resolvers of their own still executed for each, a stalled reader holds nobody).
 */

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const ORDERS = 'FOLDER/load_orders.orch.yaml'; // 4 s of steps, SUCCESS

/** Reads the run's project through a field resolver (per subscriber, never shared). */
const WITH_PROJECT = `subscription WithProject($projectId: ID!, $executionId: ID!) {
  pipelineExecutionUpdated(projectId: $projectId, executionId: $executionId) {
    cursor kind execution { id status project { id name } }
  }
}`;

interface Frame {
  id?: string;
  type: string;
  payload?: { data?: { pipelineExecutionUpdated?: { cursor: string; kind: string } } };
}

/** A graphql-ws connection spoken by hand, to see the frames themselves (ids, order, completions). */
async function rawSubscriber(
  ids: string[],
  variables: Record<string, string>,
): Promise<{ socket: WebSocket; frames: Frame[] }> {
  const socket = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  const frames: Frame[] = [];
  socket.on('message', (data: Buffer) => frames.push(JSON.parse(data.toString('utf8')) as Frame));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ type: 'connection_init' }));
  await waitFor(() => frames.some((f) => f.type === 'connection_ack'));
  for (const id of ids) {
    socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: EXECUTION_UPDATED, variables } }));
  }
  return { socket, frames };
}

let emulator: EmulatorFixture;
let gateway: InProcessGateway;
const clients: Client[] = [];

function client(): Client {
  const c = wsClient(gateway.url);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  emulator = await startEmulatorFixture({ timeScale: 0.25 });
  gateway = await startGateway(
    gatewayEnv(emulator, {
      REDIS_URL: 'redis://127.0.0.1:6379',
      AUTH_DISABLED: 'true',
      WATCH_MIN_INTERVAL_MS: '100',
      WATCH_MAX_INTERVAL_MS: '400',
      WATCH_LEASE_MS: '600',
    }),
  );
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map(async (c) => c.dispose()));
});

afterAll(async () => {
  await gateway?.close();
  await emulator?.close();
});

describe('which documents share one execution per event', () => {
  const schema = () => gateway.app.get(GraphQLSchemaHost).schema;
  const shareable = (source: string, operationName?: string) =>
    isShareable({ schema: schema(), document: parse(source), operationName });

  it('fields of the event itself (default resolvers) are shared; a field with a resolver of ours is not', () => {
    expect(shareable(EXECUTION_UPDATED)).toBe(true);
    expect(
      shareable(
        'subscription { pipelineExecutionUpdated(projectId: "p", executionId: "e") { __typename cursor } }',
      ),
    ).toBe(true);
    expect(
      shareable(
        'subscription S { pipelineExecutionUpdated(projectId: "p", executionId: "e") { ...E } } fragment E on PipelineExecutionEvent { at execution { status } }',
        'S',
      ),
    ).toBe(true);
    expect(shareable(WITH_PROJECT)).toBe(false);
    expect(
      shareable(
        'subscription { pipelineExecutionEvents(projectId: "p") { execution { id steps { nodes { name } } } } }',
      ),
    ).toBe(false);
    expect(shareable('query { __typename }')).toBe(false);
  });
});

describe('many subscribers of one execution', () => {
  it('each subscription on one connection gets its own id, every event in order, then completion', async () => {
    const id = await startRunOnEmulator(emulator.url, emulator, PROJECT, ORDERS);
    const c = client();
    const variables = { projectId: PROJECT, executionId: id };
    const same = [subscribe(c, EXECUTION_UPDATED, variables), subscribe(c, EXECUTION_UPDATED, variables)];
    const own = subscribe(c, WITH_PROJECT, variables);
    const elsewhere = subscribe(client(), EXECUTION_UPDATED, variables);
    await Promise.all([...same, own, elsewhere].map((s) => s.done));

    const events = (s: (typeof same)[number]) =>
      s.results.map((r) => {
        expect(r.errors).toBeUndefined();
        return r.data?.pipelineExecutionUpdated as {
          cursor: string;
          kind: string;
          execution: { id: string; status: string; project?: { id: string; name: string } };
        };
      });
    const [first, second] = same.map(events);
    expect(first.at(-1)).toMatchObject({ kind: 'FINISHED', execution: { id, status: 'SUCCESS' } });
    const cursors = first.map((e) => Number(e.cursor));
    expect(cursors).toEqual([...new Set(cursors)].sort((a, b) => a - b));
    // The later subscriber may begin with a snapshot of a later state; from there on it saw the same events.
    expect(first.slice(first.length - second.length + 1)).toEqual(second.slice(1));
    expect(events(elsewhere).at(-1)).toEqual(first.at(-1));
    // The document with a resolver of its own still got its own field, from its own execution.
    const withProject = events(own);
    expect(withProject.at(-1)).toMatchObject({ kind: 'FINISHED', execution: { status: 'SUCCESS' } });
    expect(withProject.every((e) => e.execution.project?.id === PROJECT)).toBe(true);
  });

  it('the frames on the wire carry each subscription id, once each, in cursor order', async () => {
    const id = await startRunOnEmulator(emulator.url, emulator, PROJECT, ORDERS);
    const raw = await rawSubscriber(['a', 'b', 'c'], { projectId: PROJECT, executionId: id });
    try {
      await waitFor(
        () => raw.frames.filter((f) => f.type === 'complete').length === 3,
        15_000,
        'three completions',
      );
      for (const subscriptionId of ['a', 'b', 'c']) {
        const mine = raw.frames.filter((f) => f.id === subscriptionId);
        expect(mine.at(-1)?.type).toBe('complete');
        const nexts = mine.filter((f) => f.type === 'next');
        const cursors = nexts.map((f) => Number(f.payload?.data?.pipelineExecutionUpdated?.cursor));
        expect(cursors.length).toBeGreaterThanOrEqual(2);
        expect(cursors).toEqual([...new Set(cursors)].sort((a, b) => a - b));
        expect(nexts.at(-1)?.payload?.data?.pipelineExecutionUpdated?.kind).toBe('FINISHED');
      }
      expect(raw.frames.filter((f) => f.id === undefined && f.type !== 'connection_ack')).toEqual([]);
    } finally {
      raw.socket.close();
    }
  });

  it('a subscriber that stops reading holds nobody else up', async () => {
    const id = await startRunOnEmulator(emulator.url, emulator, PROJECT, ORDERS);
    const variables = { projectId: PROJECT, executionId: id };
    const stalled = await rawSubscriber(['stalled'], variables);
    try {
      await waitFor(() => stalled.frames.some((f) => f.type === 'next'));
      // Its socket is no longer read: what the gateway sends it waits in buffers.
      stalled.socket.pause();
      const live = subscribe(client(), EXECUTION_UPDATED, variables);
      await live.done;
      expect(live.results.at(-1)?.data?.pipelineExecutionUpdated).toMatchObject({ kind: 'FINISHED' });
      expect(stalled.frames.some((f) => f.type === 'complete')).toBe(false);
      // Read again, it gets the rest, in order, then its completion.
      stalled.socket.resume();
      await waitFor(() => stalled.frames.some((f) => f.type === 'complete'));
      const kinds = stalled.frames
        .filter((f) => f.type === 'next')
        .map((f) => f.payload?.data?.pipelineExecutionUpdated?.kind);
      expect(kinds.at(-1)).toBe('FINISHED');
    } finally {
      stalled.socket.close();
    }
  });
});
