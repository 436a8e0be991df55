import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { Agent, request } from 'undici';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually } from '../support/eventually';
import { gatewayEnv } from '../support/gateway-env';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { parsePrometheusText, valueOf } from './prometheus-text';

const HEADERS_TIMEOUT_MS = 600;
const REQUEST_TIMEOUT_MS = 1_200;
const KEEP_ALIVE_TIMEOUT_MS = 800;
/** Node closes an idle kept-alive socket one second after the advertised keep-alive timeout. */
const NODE_KEEP_ALIVE_BUFFER_MS = 1_000;
/** Node checks header and request timeouts on an interval (a quarter of the header timeout here). */
const SLACK_MS = 1_000;
const CONNECTIONS_PER_IP = 40;

interface RawOutcome {
  /** Milliseconds from connect to the server closing the socket. */
  closedAfterMs: number;
  /** What the server wrote (its 408 when it timed the request out). */
  received: string;
}

/**
 * A raw TCP client: `start` writes on connect, `trickle` writes every 100 ms (a slow client that never
 * finishes); resolves when the server closes the socket. Bounded by `boundMs`, so a socket the server
 * never closes fails the test instead of hanging it.
 */
function rawClient(
  port: number,
  start: string,
  trickle: string | null,
  boundMs = 10_000,
  localAddress = '127.0.0.1',
): Promise<RawOutcome> {
  return new Promise((resolve, reject) => {
    const startedAtMs = Date.now();
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let received = '';
    let drip: NodeJS.Timeout | undefined;
    const bound = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the socket open for ${boundMs} ms; received ${received}`));
    }, boundMs);
    socket.on('connect', () => {
      socket.write(start);
      // A simulated slow client: one more byte of headers or body every 100 ms.
      if (trickle !== null) drip = setInterval(() => socket.writable && socket.write(trickle), 100);
    });
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', () => undefined); // a reset counts as a close
    socket.on('close', () => {
      clearInterval(drip);
      clearTimeout(bound);
      resolve({ closedAfterMs: Date.now() - startedAtMs, received });
    });
  });
}

/** A 408 problem+json with the stable code, and the connection closed after it. */
function expectTimedOut(received: string): void {
  expect(received).toMatch(/^HTTP\/1\.1 408 /);
  expect(received).toMatch(/\r\nconnection: close\r\n/i);
  expect(received).toMatch(/\r\ncontent-type: application\/problem\+json\r\n/i);
  const body = JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
  expect(body).toMatchObject({ status: 408, code: 'REQUEST_TIMEOUT' });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * A child process flooding `port` from 127.0.0.1 with `slots` slow-header connections, each reopened
 * after a random pause of up to 2 s once the gateway closes it: the pause sets the flood's rate (about
 * 1,000 connections a second from 1,000 slots) and spreads it out. It reports its attempts.
 */
function startFlooder(port: number, slots: number) {
  const script = `
    const net = require('node:net');
    let attempts = 0;
    const slot = () => {
      attempts++;
      const s = net.connect({ port: ${port}, host: '127.0.0.1', localAddress: '127.0.0.1' });
      s.on('connect', () => { s.write('GET /api/v1/projects HTTP/1.1\\r\\nHost: gateway\\r\\n'); });
      s.on('error', () => undefined);
      s.on('close', () => setTimeout(slot, Math.random() * 2000));
    };
    for (let i = 0; i < ${slots}; i++) slot();
    setInterval(() => process.stdout.write(JSON.stringify({ attempts }) + '\\n'), 50);
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = { attempts: 0 };
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    if (lines.length > 0) last = JSON.parse(lines[lines.length - 1]) as typeof last;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    report: () => last,
    /** SIGSTOP: no new attempts; the connections it holds stay open. */
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    stop: async (): Promise<void> => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Header, body and idle timeouts hold on every path (the hot-read front reads GraphQL bodies before
 * Fastify does), and a connection flood from one address is capped without hurting another caller.
 */
describe('bounded requests', () => {
  let maia: EmulatorFixture;
  let gateway: GatewayProcess;
  let port: number;

  beforeAll(async () => {
    maia = await startEmulatorFixture({ rateLimitPerMinute: 1_000_000 });
    gateway = await startGatewayProcess(
      gatewayEnv(maia, {
        HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
        HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
        HTTP_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS),
      }),
    );
    port = Number(new URL(gateway.url).port);
  });
  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await maia?.close();
  });

  it('answers 408 and closes a connection whose headers never end, within the header timeout', async () => {
    const outcomes = await Promise.all([
      rawClient(port, 'GET /api/v1/projects HTTP/1.1\r\nHost: gateway\r\n', 'X-Slow: 1\r\n'),
      // A connection that never sends a byte is held no longer.
      rawClient(port, '', null),
    ]);
    for (const { closedAfterMs, received } of outcomes) {
      expectTimedOut(received);
      expect(closedAfterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
      expect(closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS + SLACK_MS);
    }
  });

  it('answers 408 and closes a slow body within the request timeout, on the hot-read front and on REST', async () => {
    const graphqlBody = JSON.stringify({ query: '{ projects { total } }' });
    const outcomes = await Promise.all([
      // The hot-read front reads this body itself (a small JSON POST to /graphql).
      rawClient(
        port,
        'POST /graphql HTTP/1.1\r\nHost: gateway\r\ncontent-type: application/json\r\n' +
          `content-length: ${graphqlBody.length + 200}\r\n\r\n${graphqlBody}`,
        ' ',
      ),
      rawClient(
        port,
        'POST /api/v1/projects/00000000-0000-4000-8000-000000000000/pipeline-executions HTTP/1.1\r\n' +
          'Host: gateway\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n{"pipelineName":',
        ' ',
      ),
    ]);
    for (const { closedAfterMs, received } of outcomes) {
      expectTimedOut(received);
      expect(closedAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
      expect(closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + SLACK_MS);
    }
  });

  it('closes a kept-alive connection left idle after its answer, within the keep-alive timeout', async () => {
    const { closedAfterMs, received } = await rawClient(
      port,
      'GET /health/live HTTP/1.1\r\nHost: gateway\r\n\r\n',
      null,
    );
    expect(received).toMatch(/^HTTP\/1\.1 200 /);
    expect(received).toMatch(
      new RegExp(`keep-alive: timeout=${Math.floor(KEEP_ALIVE_TIMEOUT_MS / 1000)}`, 'i'),
    );
    expect(closedAfterMs).toBeGreaterThanOrEqual(KEEP_ALIVE_TIMEOUT_MS - 50);
    expect(closedAfterMs).toBeLessThan(KEEP_ALIVE_TIMEOUT_MS + NODE_KEEP_ALIVE_BUFFER_MS + SLACK_MS);
  });
});

/** A gateway with the default timeouts: the flood's connections are held as long as a real one's would. */
describe('per-IP connection cap', () => {
  let maia: EmulatorFixture;
  let gateway: GatewayProcess;
  let port: number;

  beforeAll(async () => {
    maia = await startEmulatorFixture({ rateLimitPerMinute: 1_000_000 });
    gateway = await startGatewayProcess(
      gatewayEnv(maia, {
        CONNECTION_LIMIT_PER_IP: String(CONNECTIONS_PER_IP),
        RATE_LIMIT_PER_MINUTE: '1000000',
        RATE_LIMIT_BURST: '1000000',
      }),
    );
    port = Number(new URL(gateway.url).port);
  });
  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await maia?.close();
  });

  it('caps a connection flood from one address without hurting another caller', async () => {
    // The other caller: its own source address (127.0.0.2 is loopback too), one kept-alive connection.
    const other = new Agent({ connections: 1, localAddress: '127.0.0.2' });
    const url = `${gateway.url}/api/v1/projects`;
    const sample = async (count: number): Promise<number[]> => {
      const timings: number[] = [];
      for (let i = 0; i < count; i += 1) {
        const startedAtMs = performance.now();
        const response = await request(url, { dispatcher: other });
        await response.body.arrayBuffer();
        expect(response.statusCode).toBe(200);
        timings.push(performance.now() - startedAtMs);
      }
      return timings;
    };
    await sample(20); // warm: the projects are cached, the connection is open

    // The flood, from a process of its own so that it does not slow the measuring client down.
    const flooder = startFlooder(port, 1_000);
    try {
      // The gateway holds the cap from that address and no more: the rest are reset on arrival. Its own
      // count of open connections, read from the other address (127.0.0.1 is at its cap), has room for
      // the flood's allowance plus the other caller's one connection.
      const openCounts: number[] = [];
      const scrape = async () => {
        const metrics = await request(`${gateway.url}/metrics`, { dispatcher: other });
        const samples = parsePrometheusText(await metrics.body.text());
        openCounts.push(valueOf(samples, 'gateway_http_connections') ?? -1);
        return samples;
      };
      await eventually(
        async () => {
          const samples = await scrape();
          expect(valueOf(samples, 'gateway_connections_refused_total')).toBeGreaterThanOrEqual(1_000);
          expect(openCounts.at(-1)).toBe(CONNECTIONS_PER_IP + 1);
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );

      // The other caller's latency with the flood paused (SIGSTOP: its held connections stay open) and
      // running, in alternating rounds, so that the rest of the machine's load weighs on both alike.
      const unloaded: number[] = [];
      const loaded: number[] = [];
      for (let round = 0; round < 8; round += 1) {
        flooder.pause();
        unloaded.push(...(await sample(25)));
        const before = flooder.report().attempts;
        flooder.resume();
        await eventually(() => expect(flooder.report().attempts).toBeGreaterThan(before + 200), {
          timeoutMs: 10_000,
        });
        loaded.push(...(await sample(25)));
        await scrape();
      }
      const unloadedP50 = percentile(unloaded, 50);
      const loadedP50 = percentile(loaded, 50);
      const { attempts } = flooder.report();
      console.log(
        `flood: ${attempts} connection attempts from one address, at most ${Math.max(...openCounts)} ` +
          `connections open at the gateway; other caller p50 ${unloadedP50.toFixed(2)} ms with the flood ` +
          `paused, ${loadedP50.toFixed(2)} ms under it`,
      );
      expect(attempts).toBeGreaterThan(2_000);
      expect(Math.max(...openCounts)).toBe(CONNECTIONS_PER_IP + 1);
      expect(loadedP50).toBeLessThanOrEqual(Math.max(3 * unloadedP50, unloadedP50 + 2));
    } finally {
      await flooder.stop();
      await other.close();
    }
  });
});
