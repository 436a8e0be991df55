import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gql, seed } from '../api/support/api-client';
import { startEmulatorFixture, type EmulatorFixture } from '../support/emulator-fixture';
import { eventually } from '../support/eventually';
import { gatewayEnv, startGateway, type InProcessGateway } from '../support/gateway-inprocess';
import { DedicatedRedis } from './dedicated-redis';

// js-yaml comes with @nestjs/swagger (a runtime dependency).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require('js-yaml') as { load(text: string): unknown };

/**
 * docs/operations.md: idempotency records must survive a Redis restart. The Redis of docker-compose.yml,
 * run here with its own arguments (its `--dir` a temporary directory instead of the volume), keeps a key's
 * answer across a restart: the same key after the restart replays the first run instead of starting another.
 */
describe("docker-compose.yml's Redis keeps idempotency keys across a restart", () => {
  let dir: string;
  let redis: DedicatedRedis;
  let maia: EmulatorFixture;
  let gateway: InProcessGateway;

  /** The redis service's command of docker-compose.yml, minus the program name, with `--dir` moved to `dir`. */
  function composeRedisArguments(): string[] {
    const compose = yaml.load(readFileSync(resolve(__dirname, '..', '..', 'docker-compose.yml'), 'utf8')) as {
      services: { redis: { command: string[]; volumes?: string[] } };
    };
    const [program, ...args] = compose.services.redis.command;
    expect(program).toBe('redis-server');
    const at = args.indexOf('--dir');
    expect(at).toBeGreaterThanOrEqual(0);
    // The directory the file is written to is the one the volume is mounted on.
    expect(compose.services.redis.volumes?.map((volume) => volume.split(':')[1])).toContain(args[at + 1]);
    return args.map((arg, i) => (i === at + 1 ? dir : arg));
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'compose-redis-'));
    redis = await DedicatedRedis.start({ persistence: composeRedisArguments() });
    maia = await startEmulatorFixture();
    gateway = await startGateway(gatewayEnv(maia, { REDIS_URL: redis.url }));
  });
  afterAll(async () => {
    await gateway?.close();
    await maia?.close();
    await redis?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  const execute = (idempotencyKey: string) =>
    gql(
      gateway.url,
      'mutation ($input: ExecutePipelineInput!) { executePipeline(input: $input) { pipelineExecutionId replayed } }',
      {
        input: {
          projectId: seed.testProject,
          pipelineName: 'Pipeline 1',
          environmentName: 'Dev Environment',
          idempotencyKey,
        },
      },
    );

  it('replays the first run for a key used before the restart', async () => {
    const first = await execute('compose-restart-1');
    expect(first.errors).toBeUndefined();
    expect(first.data.executePipeline.replayed).toBe(false);

    await redis.stop();
    await redis.restart();

    // While the gateway reconnects, a keyed execute is refused (IDEMPOTENCY_UNAVAILABLE, nothing sent to
    // Maia): wait until one is answered.
    const again = await eventually(
      async () => {
        const answer = await execute('compose-restart-1');
        expect(answer.errors).toBeUndefined();
        return answer;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(again.data.executePipeline).toEqual({
      pipelineExecutionId: first.data.executePipeline.pipelineExecutionId,
      replayed: true,
    });
    expect(await maia.count('executePipeline')).toBe(1);
  });
});
