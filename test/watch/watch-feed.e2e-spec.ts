import { type Client } from 'graphql-ws';
import { ExecutionWatchService } from '../../src/watch/execution-watch.service';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { subscribe, waitFor, wsClient, type GqlSubscription } from './support/watch-clients';

/**
 * The project feed (`pipelineExecutionEvents`) is exact: a subscriber gets what happens from the moment it
 * subscribes and nothing older, a run that starts and ends between two polls still yields STARTED then
 * FINISHED, and more than Maia's page of 100 runs between two polls all arrive. One in-process gateway on
 * real Redis and the emulator; runs are started on the emulator directly, so only the feed's list poll sees
 * them.
 */

const PROJECT = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
const ORDERS = 'FOLDER/load_orders.orch.yaml'; // 4 s of steps: 1 s at this time scale
const TIME_SCALE = 0.25;
/** Polls 2.5 s apart, so a 1 s run fits between two of them. */
const POLL_MS = 2_500;

const FEED = `subscription Feed($projectId: ID!, $after: String) {
  pipelineExecutionEvents(projectId: $projectId, after: $after) {
    cursor kind execution { id status pipelineName startedAt finishedAt }
  }
}`;

interface FeedEvent {
  cursor: string;
  kind: string;
  execution: { id: string; status: string; startedAt: string | null; finishedAt: string | null };
}

let emulator: EmulatorFixture;
let gateway: InProcessGateway;
/** The gateway's configuration: a second replica started with it shares its Redis keys. */
let env: ReturnType<typeof gatewayEnv>;
let watch: ExecutionWatchService;
let token: string;
const clients: Client[] = [];

function feed(after?: string, on: InProcessGateway = gateway): GqlSubscription {
  const client = wsClient(on.url);
  clients.push(client);
  return subscribe(client, FEED, { projectId: PROJECT, after });
}

function events(sub: GqlSubscription): FeedEvent[] {
  const errors = sub.results.flatMap((r) => r.errors ?? []);
  if (errors.length > 0) throw new Error(`the feed failed: ${JSON.stringify(errors)}`);
  return sub.results.map((r) => r.data?.pipelineExecutionEvents as FeedEvent);
}

const ofRun = (sub: GqlSubscription, id: string) =>
  events(sub)
    .filter((e) => e.execution.id === id)
    .map((e) => [e.kind, e.execution.status]);

async function bearer(): Promise<string> {
  const response = await fetch(emulator.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: emulator.clientId,
      client_secret: emulator.clientSecret,
      audience: 'https://api.matillion.com',
    }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Starts a run on the emulator directly (no gateway sees the launch). */
async function run(): Promise<string> {
  const response = await fetch(`${emulator.apiBaseUrl}/v1/projects/${PROJECT}/pipeline-executions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pipelineName: ORDERS, environmentName: 'Dev' }),
  });
  if (response.status !== 201) throw new Error(`execute answered ${response.status}`);
  return ((await response.json()) as { pipelineExecutionId: string }).pipelineExecutionId;
}

async function statusOnEmulator(id: string): Promise<string | undefined> {
  return (await emulator.executions()).find((e) => e.pipelineExecutionId === id)?.status;
}

/** Resolves right after the feed's next list round began (its first page reached the emulator). */
async function nextRound(): Promise<void> {
  const before = await rounds();
  await waitFor(async () => (await rounds()) > before, 4 * POLL_MS, 'the next list round');
}

/** List calls that begin a round: those without a paginationToken. */
async function rounds(): Promise<number> {
  return (await listRequests()).filter((r) => !r.query.paginationToken).length;
}

async function listRequests() {
  return (await emulator.requests()).filter((r) => r.route === 'listExecutions');
}

beforeAll(async () => {
  emulator = await startEmulatorFixture({ timeScale: TIME_SCALE });
  env = gatewayEnv(emulator, {
    REDIS_URL: 'redis://127.0.0.1:6379',
    AUTH_DISABLED: 'true',
    WATCH_MIN_INTERVAL_MS: String(POLL_MS),
    WATCH_MAX_INTERVAL_MS: String(POLL_MS),
    WATCH_LEASE_MS: '1000',
  });
  gateway = await startGateway(env);
  watch = gateway.app.get(ExecutionWatchService);
  token = await bearer();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map(async (c) => c.dispose()));
  await waitFor(() => watch.activity().topics === 0, 10_000, 'every feed hub closed');
});

afterAll(async () => {
  await gateway?.close();
  await emulator?.close();
});

describe('pipelineExecutionEvents', () => {
  it('a run of one second that starts and ends between two polls yields STARTED, then FINISHED', async () => {
    const sub = feed();
    await nextRound();
    await nextRound(); // the first round is done: the next begins a full interval later
    const roundsAtLaunch = await rounds();
    const id = await run();
    await waitFor(async () => (await statusOnEmulator(id)) === 'SUCCESS', 5_000, 'the run finished');
    // The run began and ended with no list round in between: the feed first sees it finished.
    expect(await rounds()).toBe(roundsAtLaunch);

    await waitFor(() => ofRun(sub, id).length === 2, 4 * POLL_MS, 'two events of the run');
    expect(ofRun(sub, id)).toEqual([
      ['STARTED', 'RUNNING'],
      ['FINISHED', 'SUCCESS'],
    ]);
    const [started, finished] = events(sub).filter((e) => e.execution.id === id);
    expect(started.execution.finishedAt).toBeNull();
    expect(finished.execution.finishedAt).not.toBeNull();
    expect(Number(finished.cursor)).toBeGreaterThan(Number(started.cursor));
    // Nothing else happened in the project since the subscription.
    expect(events(sub).every((e) => e.execution.id === id)).toBe(true);
  });

  it('a late subscriber gets no event of a run that finished before it subscribed', async () => {
    // A first subscriber sees a run from start to finish; the feed's history now holds its events.
    const first = feed();
    await nextRound();
    const seenBefore = await run();
    await waitFor(() => ofRun(first, seenBefore).length === 2, 4 * POLL_MS, 'the first run in the feed');
    first.unsubscribe();
    await waitFor(() => watch.activity().topics === 0, 10_000, 'the feed hub closed');
    // A run that starts and finishes while nobody watches.
    const unwatched = await run();
    await waitFor(async () => (await statusOnEmulator(unwatched)) === 'SUCCESS', 5_000, 'unwatched run');

    const late = feed();
    await nextRound();
    const after = await run();
    await waitFor(() => ofRun(late, after).length === 2, 4 * POLL_MS, 'the new run in the late feed');
    await nextRound(); // one more round: nothing old arrives late either
    expect(events(late).map((e) => [e.kind, e.execution.id])).toEqual([
      ['STARTED', after],
      ['FINISHED', after],
    ]);
  });

  it('150 runs started between two polls all reach the subscriber, with a bounded number of list calls', async () => {
    const sub = feed();
    await nextRound();
    await nextRound();
    await emulator.clearRequests();
    const ids = await Promise.all(Array.from({ length: 150 }, () => run()));
    const finishedCount = () =>
      sub.results.filter(
        (r) =>
          r.data?.pipelineExecutionEvents &&
          (r.data.pipelineExecutionEvents as FeedEvent).kind === 'FINISHED',
      ).length;
    await waitFor(() => finishedCount() >= 150, 8 * POLL_MS, 'all 150 runs finished in the feed');

    // Counted: each of the 150 runs exactly once started and once finished, in that order.
    const byRun = new Map<string, string[]>();
    for (const e of events(sub))
      byRun.set(e.execution.id, [...(byRun.get(e.execution.id) ?? []), `${e.kind} ${e.execution.status}`]);
    expect([...byRun.keys()].sort()).toEqual([...ids].sort());
    expect(new Set([...byRun.values()].map((kinds) => kinds.join(', ')))).toEqual(
      new Set(['STARTED RUNNING, FINISHED SUCCESS']),
    );
    expect(events(sub)).toHaveLength(300);
    // Each round reads one page, and a second only while more than a page of runs is new or still going.
    const lists = await listRequests();
    const roundCount = lists.filter((r) => !r.query.paginationToken).length;
    const followPages = lists.length - roundCount;
    expect(followPages).toBeGreaterThanOrEqual(1);
    expect(followPages).toBeLessThanOrEqual(3);
    expect(roundCount).toBeLessThanOrEqual(6);
    // Once everything finished, a round is one call again.
    await emulator.clearRequests();
    await nextRound();
    await nextRound();
    expect((await listRequests()).every((r) => !r.query.paginationToken)).toBe(true);
  });

  it('resumes after a cursor: the events since it first (also of what finished meanwhile), then live ones; an expired cursor ends with BAD_USER_INPUT', async () => {
    const first = feed();
    await nextRound();
    const id = await run();
    await waitFor(() => ofRun(first, id).length >= 1, 4 * POLL_MS, 'the run started in the feed');
    const [started] = events(first).filter((e) => e.execution.id === id);
    first.unsubscribe();
    await waitFor(() => watch.activity().topics === 0, 10_000, 'the feed hub closed');
    await waitFor(async () => (await statusOnEmulator(id)) === 'SUCCESS', 5_000, 'the run finished');

    const resumed = feed(started.cursor);
    await waitFor(() => ofRun(resumed, id).length >= 1, 4 * POLL_MS, 'the finish after the cursor');
    const next = await run();
    await waitFor(() => ofRun(resumed, next).length === 2, 4 * POLL_MS, 'the next run live');
    expect(events(resumed).map((e) => [e.kind, e.execution.id])).toEqual([
      ['FINISHED', id],
      ['STARTED', next],
      ['FINISHED', next],
    ]);
    const cursors = events(resumed).map((e) => Number(e.cursor));
    expect(cursors[0]).toBeGreaterThan(Number(started.cursor));
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b));

    const expired = feed('1');
    await expired.done;
    expect(expired.results).toHaveLength(1);
    expect(expired.results[0].errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT', field: 'after' },
    });
  });

  it('two replicas with subscribers share one list poll: every subscriber gets the same events, Maia one round per interval', async () => {
    const other = await startGateway(env);
    try {
      const onA = feed();
      const onB = feed(undefined, other);
      await nextRound();
      const begin = Date.now();
      const roundsBefore = await rounds();
      const ids = await Promise.all(Array.from({ length: 120 }, () => run()));
      const finishedOn = (sub: GqlSubscription) =>
        events(sub).filter((e) => e.kind === 'FINISHED' && ids.includes(e.execution.id)).length;
      await waitFor(() => finishedOn(onA) === 120 && finishedOn(onB) === 120, 8 * POLL_MS, 'both feeds');
      const elapsedMs = Date.now() - begin;

      expect(events(onB)).toEqual(events(onA));
      expect(events(onA)).toHaveLength(240);
      // One leader for the fleet: rounds as one poller makes them, not one per replica.
      expect((await rounds()) - roundsBefore).toBeLessThanOrEqual(Math.floor(elapsedMs / POLL_MS) + 1);
    } finally {
      await Promise.all(clients.splice(0).map(async (c) => c.dispose()));
      await other.close();
    }
  });
});
