import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { GraphqlQueryLane } from '../../src/graphql/lane/query-lane';
import { createSigningKey } from '../auth/jwks-test-server';
import { KEYS, PROJECTS, startSecuredWorld, type SecuredWorld } from '../auth/support/secured-gateway';
import { eventually } from '../support/eventually';
import { STANDALONE_REDIS_URL } from '../support/redis-topologies';

const PIPELINE = 'FOLDER/load_orders.orch.yaml';

/**
 * Acceptance in flight (docs/adr/0043-acceptance-in-flight.md): while a document's first request is inside
 * Apollo, later requests for the same document wait at the GraphQL query lane and take the lane once
 * Apollo registered it, or go to Apollo as before when that request ends without (refused, aborted) or the
 * wait times out. Every answer must be the one Apollo gives the same request.
 *
 * A first request is held inside Apollo by its credential: a JWT signed by a key the gateway has not seen
 * makes it fetch the identity provider's key set (`AUTH_JWKS_COOLDOWN_MS=0`: at every new key), and the
 * test's provider holds that answer (`idp.hold`) until the test lets it go.
 */

interface Req {
  query: string;
  key?: string;
  bearer?: string;
  signal?: AbortSignal;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Headers that differ per request whichever path answers. */
const PER_REQUEST_HEADERS = new Set(['date', 'x-request-id', 'connection', 'keep-alive']);

/** A launch of its own per call (a cold document, as `coldQuery`): each request of it launches a run. */
function coldLaunch(): string {
  return `mutation Launch { executePipeline(input: { projectId: "${PROJECTS.analytics}", pipelineName: "${PIPELINE}", environmentName: "Dev" }) { pipelineExecutionId } } # ${randomUUID()}`;
}

/** A query of its own per call: documents are accepted once per process, so each test starts cold. */
function coldQuery(): string {
  return `query Cold { projects(size: 3) { total results { id name } } } # ${randomUUID()}`;
}

/**
 * `count` identical POSTs written in one turn on connections opened beforehand (a stampede, as the bench
 * sends it): the gateway runs in this process, so fetch's own per-request work would spread them out.
 */
async function rawBurst(
  url: string,
  count: number,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ status: number; head: string; body: string }[]> {
  const { hostname, port } = new URL(url);
  const sockets = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect({ host: hostname, port: Number(port) }, () => resolve(socket));
          socket.once('error', reject);
        }),
    ),
  );
  const payload = JSON.stringify(body);
  const head = [
    'POST /graphql HTTP/1.1',
    `host: ${hostname}:${port}`,
    'connection: close',
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(payload)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ].join('\r\n');
  const request = Buffer.from(`${head}\r\n\r\n${payload}`);
  const answers = sockets.map(
    (socket) =>
      new Promise<{ status: number; head: string; body: string }>((resolve, reject) => {
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.once('error', reject);
        socket.once('close', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const end = text.indexOf('\r\n\r\n');
          resolve({
            status: Number(text.slice(9, 12)),
            head: text.slice(0, end).toLowerCase(),
            body: text.slice(end + 4),
          });
        });
      }),
  );
  for (const socket of sockets) socket.write(request);
  return Promise.all(answers);
}

function worldEnv(park: { perDocument: number; total: number; timeoutMs: number }): Record<string, string> {
  return {
    REDIS_URL: STANDALONE_REDIS_URL,
    REDIS_KEY_PREFIX: `test:${randomUUID()}:`,
    GRAPHQL_QUERY_LANE: 'on',
    CACHE_HOT_READ_TTL_MS: '0',
    LOG_LEVEL: 'silent',
    AUTH_JWKS_COOLDOWN_MS: '0',
    AUTH_JWKS_TIMEOUT_MS: '30000',
    GRAPHQL_QUERY_LANE_PARK_PER_DOCUMENT: String(park.perDocument),
    GRAPHQL_QUERY_LANE_PARK_TOTAL: String(park.total),
    GRAPHQL_QUERY_LANE_PARK_TIMEOUT_MS: String(park.timeoutMs),
  };
}

function harness(world: () => SecuredWorld) {
  const lane = () => world().gateway.app.get(GraphqlQueryLane);

  async function send(req: Req): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (req.key !== undefined) headers['x-api-key'] = req.key;
    if (req.bearer !== undefined) headers.authorization = `Bearer ${req.bearer}`;
    const response = await fetch(`${world().url}/graphql`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: req.query }),
      signal: req.signal,
    });
    const kept: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (!PER_REQUEST_HEADERS.has(name)) kept[name] = value;
    });
    return { status: response.status, headers: kept, body: await response.text() };
  }

  /** Apollo's answer to the same request (the lane off meanwhile: nothing waits, nothing is served). */
  async function apolloAnswer(req: Req): Promise<Answer> {
    lane().enabled = false;
    try {
      return await send(req);
    } finally {
      lane().enabled = true;
    }
  }

  /** The lane's counters in /metrics: served, and the parked requests by outcome. */
  async function counters(): Promise<Record<string, number>> {
    const text = await (await fetch(`${world().url}/metrics`)).text();
    const out: Record<string, number> = {
      served: 0,
      accepted: 0,
      released: 0,
      timeout: 0,
      abandoned: 0,
      full: 0,
    };
    for (const match of text.matchAll(
      /^gateway_graphql_lane_(?:requests_total\{result|parked_total\{outcome)="(\w+)"\} (\S+)$/gm,
    ))
      out[match[1]] = Number(match[2]);
    return out;
  }

  function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
    return Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - (before[k] ?? 0)]));
  }

  /**
   * A first request held inside Apollo (its admission waits for the key set): its answer, and the means to
   * let the key set go (its key published or not: a valid or a refused caller) or to abort it.
   */
  async function heldLeader(query: string, valid: boolean) {
    const idp = world().idp;
    const key = await createSigningKey(`k-${randomUUID()}`);
    if (valid) idp.published = [...idp.published, key];
    let letGo = () => {};
    idp.hold = new Promise<void>((resolve) => (letGo = resolve));
    const token = await idp.sign(key, { scope: 'admin', maia_projects: ['*'] });
    const fetches = idp.fetches;
    const controller = new AbortController();
    const answer = send({ query, bearer: token, signal: controller.signal });
    answer.catch(() => undefined);
    // Inside Apollo: its admission asked for the key set.
    await eventually(() => idp.fetches > fetches);
    return {
      answer,
      token,
      abort: () => controller.abort(),
      release: () => {
        idp.hold = undefined;
        letGo();
      },
    };
  }

  return { lane, send, apolloAnswer, counters, delta, heldLeader };
}

describe('GraphQL query lane: acceptance in flight', () => {
  let world: SecuredWorld;
  const h = harness(() => world);

  beforeAll(async () => {
    world = await startSecuredWorld(worldEnv({ perDocument: 40, total: 50, timeoutMs: 20_000 }));
  });

  afterAll(async () => {
    if (world) world.idp.hold = undefined;
    await world?.close();
  });

  afterEach(() => {
    world.idp.hold = undefined;
    h.lane().enabled = true;
  });

  it('a burst of identical cold queries on a fresh gateway: Apollo answers the first, the lane the rest, alike', async () => {
    const query = coldQuery();
    const before = await h.counters();
    const servedBefore = h.lane().served;
    // A caller whose first request makes the gateway fetch the key set: I/O while inside Apollo, as a
    // first request of a fresh process meets (in this test process the rest of its way takes no turn).
    const key = await createSigningKey(`k-${randomUUID()}`);
    world.idp.published = [...world.idp.published, key];
    const token = await world.idp.sign(key, { scope: 'admin', maia_projects: ['*'] });
    const burst = await rawBurst(world.url, 40, { query }, { authorization: `Bearer ${token}` });
    const servedByLane = h.lane().served - servedBefore;
    const counted = h.delta(before, await h.counters());
    const apollo = await h.apolloAnswer({ query, bearer: token });
    expect(apollo.status).toBe(200);
    expect(JSON.parse(apollo.body)).toMatchObject({ data: { projects: { total: 5 } } });
    for (const answer of burst) {
      expect(answer.status).toBe(apollo.status);
      expect(answer.body).toBe(apollo.body);
      expect(answer.head).toContain(`content-type: ${apollo.headers['content-type']}`);
    }
    // One request through Apollo (the one that made the document known), every other one by the lane.
    expect(servedByLane).toBe(39);
    expect(counted.served).toBe(39);
    expect(counted.accepted).toBeGreaterThan(0);
  });

  it('parked behind a valid first request: each caller gets its own answer (a bad key its 401)', async () => {
    const query = coldQuery();
    const leader = await h.heldLeader(query, true);
    const before = await h.counters();
    const callers = [KEYS.admin, KEYS.reader, KEYS.otherProject, 'no-such-key', KEYS.admin];
    const answers = callers.map((key) => h.send({ query, key }));
    await eventually(() => expect(h.lane().parked).toBe(callers.length));
    leader.release();
    const [leaderAnswer, ...followers] = await Promise.all([leader.answer, ...answers]);
    const counted = h.delta(before, await h.counters());
    expect(leaderAnswer.status).toBe(200);
    for (const [i, key] of callers.entries())
      expect(followers[i]).toEqual(await h.apolloAnswer({ query, key }));
    expect(followers.map((a) => a.status)).toEqual([200, 200, 200, 401, 200]);
    expect(counted).toMatchObject({ accepted: callers.length, released: 0, timeout: 0, full: 0 });
    // The bad key was refused by the lane's own admission and answered by Apollo.
    expect(counted.served).toBe(callers.length - 1);
  });

  it('parked behind a refused first request (a JWT of an unknown key): Apollo answers each, with data', async () => {
    const query = coldQuery();
    const leader = await h.heldLeader(query, false);
    const before = await h.counters();
    const callers = [KEYS.admin, KEYS.reader, KEYS.admin];
    const answers = callers.map((key) => h.send({ query, key }));
    await eventually(() => expect(h.lane().parked).toBe(callers.length));
    leader.release();
    const [leaderAnswer, ...followers] = await Promise.all([leader.answer, ...answers]);
    const counted = h.delta(before, await h.counters());
    expect(leaderAnswer.status).toBe(401);
    expect(leaderAnswer).toEqual(await h.apolloAnswer({ query, bearer: leader.token }));
    for (const [i, key] of callers.entries()) {
      expect(followers[i].status).toBe(200);
      expect(followers[i]).toEqual(await h.apolloAnswer({ query, key }));
    }
    expect(counted).toMatchObject({ served: 0, accepted: 0, released: callers.length });
  });

  it("releases the parked requests to Apollo when the first request's connection is aborted", async () => {
    const query = coldQuery();
    const leader = await h.heldLeader(query, true);
    const before = await h.counters();
    const answers = [KEYS.admin, KEYS.reader].map((key) => h.send({ query, key }));
    await eventually(() => expect(h.lane().parked).toBe(2));
    leader.abort();
    // Answered while the first request is still held inside Apollo.
    const followers = await Promise.all(answers);
    expect(world.idp.hold).toBeDefined();
    const counted = h.delta(before, await h.counters());
    expect(counted).toMatchObject({ served: 0, accepted: 0, released: 2 });
    leader.release();
    expect(followers[0]).toEqual(await h.apolloAnswer({ query, key: KEYS.admin }));
    expect(followers[1]).toEqual(await h.apolloAnswer({ query, key: KEYS.reader }));
  });

  it('parks at most the cap per document and overall; the others go to Apollo at once', async () => {
    const [queryA, queryB] = [coldQuery(), coldQuery()];
    // One held key set holds both first requests.
    const leaderA = await h.heldLeader(queryA, true);
    const leaderB = h.send({ query: queryB, bearer: leaderA.token });
    const before = await h.counters();
    const followersA = Array.from({ length: 40 }, () => h.send({ query: queryA, key: KEYS.admin }));
    await eventually(() => expect(h.lane().parked).toBe(40));
    const followersB = Array.from({ length: 10 }, () => h.send({ query: queryB, key: KEYS.admin }));
    await eventually(() => expect(h.lane().parked).toBe(50));
    // Over the cap overall: to Apollo at once, which accepts its document for the ten parked behind B.
    const overB = await h.send({ query: queryB, key: KEYS.admin });
    await eventually(() => expect(h.lane().parked).toBe(40));
    // Over the cap of its document: the same for A.
    const overA = await h.send({ query: queryA, key: KEYS.admin });
    const answersA = await Promise.all(followersA);
    const answersB = await Promise.all(followersB);
    // All of that while both first requests are still held inside Apollo.
    expect(world.idp.hold).toBeDefined();
    const counted = h.delta(before, await h.counters());
    expect(counted).toMatchObject({ accepted: 50, full: 2, released: 0, timeout: 0, served: 50 });
    leaderA.release();
    expect((await leaderA.answer).status).toBe(200);
    expect((await leaderB).status).toBe(200);
    const apolloA = await h.apolloAnswer({ query: queryA, key: KEYS.admin });
    const apolloB = await h.apolloAnswer({ query: queryB, key: KEYS.admin });
    for (const answer of [overA, ...answersA]) expect(answer).toEqual(apolloA);
    for (const answer of [overB, ...answersB]) expect(answer).toEqual(apolloB);
  });

  it('identical mutations parked behind the first: each runs once, on the lane, after Apollo accepted it', async () => {
    // Mutations are registered too (ADR 0044): parking waits for the first one's acceptance, never for its
    // outcome, and never merges the requests: every one of them executes its own mutation.
    const query = `mutation Drop { invalidateCache(projectId: "${PROJECTS.sandboxB}") { invalidated } } # ${randomUUID()}`;
    const leader = await h.heldLeader(query, true);
    const before = await h.counters();
    const followers = [1, 2, 3].map(() => h.send({ query, key: KEYS.admin }));
    await eventually(() => expect(h.lane().parked).toBe(3));
    leader.release();
    const [leaderAnswer, ...answers] = await Promise.all([leader.answer, ...followers]);
    const counted = h.delta(before, await h.counters());
    expect(leaderAnswer.status).toBe(200);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({
        data: { invalidateCache: { invalidated: PROJECTS.sandboxB } },
      });
    }
    expect(counted).toMatchObject({ served: 3, accepted: 3, released: 0, timeout: 0, full: 0 });
  });

  it('identical launches parked behind the first: one launch per request, none twice, the followers on the lane', async () => {
    const query = coldLaunch();
    const launches = () => world.maia.count('executePipeline');
    const launched = await launches();
    const leader = await h.heldLeader(query, true);
    const before = await h.counters();
    const followers = [1, 2, 3].map(() => h.send({ query, key: KEYS.operator }));
    await eventually(() => expect(h.lane().parked).toBe(3));
    // Parked: nothing launched yet (the first request is held at its admission).
    expect(await launches()).toBe(launched);
    leader.release();
    const answers = await Promise.all([leader.answer, ...followers]);
    const counted = h.delta(before, await h.counters());
    const runs = answers.map((answer) => {
      expect(answer.status).toBe(200);
      const body = JSON.parse(answer.body) as { data: { executePipeline: { pipelineExecutionId: string } } };
      return body.data.executePipeline.pipelineExecutionId;
    });
    // Four requests, four launches, four runs.
    expect(new Set(runs).size).toBe(4);
    expect((await launches()) - launched).toBe(4);
    expect(counted).toMatchObject({ served: 3, accepted: 3, released: 0, abandoned: 0 });
  });

  it('a parked launch whose client went away is dropped: launched only for the requests still connected', async () => {
    const query = coldLaunch();
    const launches = () => world.maia.count('executePipeline');
    const launched = await launches();
    // The gateway's responses to this document, to see when it has noticed a client gone.
    const responses: ServerResponse[] = [];
    const server: Server = world.gateway.app.getHttpServer();
    const record = (req: IncomingMessage, res: ServerResponse) => {
      if (req.method === 'POST' && req.url === '/graphql') responses.push(res);
    };
    server.on('request', record);
    try {
      const leader = await h.heldLeader(query, true);
      const before = await h.counters();
      const connected = [1, 2].map(() => h.send({ query, key: KEYS.operator }));
      const controllers = [new AbortController(), new AbortController()];
      const leaving = controllers.map((controller) =>
        h.send({ query, key: KEYS.operator, signal: controller.signal }).catch(() => 'aborted'),
      );
      await eventually(() => expect(h.lane().parked).toBe(4));
      for (const controller of controllers) controller.abort();
      expect(await Promise.all(leaving)).toEqual(['aborted', 'aborted']);
      // Gone before any answer: destroyed, nothing written.
      await eventually(() =>
        expect(responses.filter((res) => res.destroyed && !res.headersSent)).toHaveLength(2),
      );
      leader.release();
      const answers = await Promise.all([leader.answer, ...connected]);
      for (const answer of answers) expect(answer.status).toBe(200);
      const counted = h.delta(before, await h.counters());
      // The first request and the two still connected: three launches, none for the two gone.
      expect((await launches()) - launched).toBe(3);
      expect(counted).toMatchObject({ served: 2, accepted: 2, abandoned: 2, released: 0, timeout: 0 });
    } finally {
      server.off('request', record);
    }
  });

  it('a document Apollo refuses: every request of a burst gets Apollo’s own answer, none the lane', async () => {
    const query = `query Bad { projects { nope } } # ${randomUUID()}`;
    const before = await h.counters();
    const burst = await Promise.all(Array.from({ length: 20 }, () => h.send({ query, key: KEYS.admin })));
    const counted = h.delta(before, await h.counters());
    const apollo = await h.apolloAnswer({ query, key: KEYS.admin });
    expect(apollo.status).toBe(400);
    for (const answer of burst) expect(answer).toEqual(apollo);
    expect(counted).toMatchObject({ served: 0, accepted: 0, timeout: 0 });
  });
});

describe('GraphQL query lane: acceptance in flight, the wait timed out', () => {
  let world: SecuredWorld;
  const h = harness(() => world);

  beforeAll(async () => {
    world = await startSecuredWorld(worldEnv({ perDocument: 10, total: 10, timeoutMs: 300 }));
  });

  afterAll(async () => {
    if (world) world.idp.hold = undefined;
    await world?.close();
  });

  it('sends the parked requests to Apollo after the timeout, while the first request is still inside', async () => {
    const query = coldQuery();
    const leader = await h.heldLeader(query, true);
    const before = await h.counters();
    const followers = await Promise.all([KEYS.admin, KEYS.reader].map((key) => h.send({ query, key })));
    expect(world.idp.hold).toBeDefined();
    const counted = h.delta(before, await h.counters());
    expect(counted).toMatchObject({ served: 0, accepted: 0, released: 0, timeout: 2 });
    leader.release();
    expect((await leader.answer).status).toBe(200);
    expect(followers[0]).toEqual(await h.apolloAnswer({ query, key: KEYS.admin }));
    expect(followers[1]).toEqual(await h.apolloAnswer({ query, key: KEYS.reader }));
  });
});
