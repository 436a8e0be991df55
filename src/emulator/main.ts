import { listenProblem } from '../lifecycle/listen-problem';
import { startEmulator, type EmulatorOptions } from './emulator';

/**
 * `npm run emulator`: the Maia emulator on its own. Reads EMULATOR_* variables (docs/emulator.md), prints
 * where it listens and the sandbox credentials (they are the seed's fake ones, not secrets), and closes
 * cleanly on SIGTERM/SIGINT. A bad setting or a port it cannot listen on ends the start with one line
 * naming the variable and exit status 78, as the gateway's own start does.
 */

const EX_CONFIG = 78;

function refuseStart(line: string): never {
  console.error(line);
  process.exit(EX_CONFIG);
}

type Env = Record<string, string | undefined>;

function readOptions(env: Env): EmulatorOptions {
  const options: EmulatorOptions = {
    host: env.EMULATOR_HOST?.trim() || '127.0.0.1',
    port: int(env, 'EMULATOR_PORT', 0, 65535) ?? 4010,
    quiet: true,
  };
  const timeScale = env.EMULATOR_TIME_SCALE?.trim();
  if (timeScale) {
    const value = Number(timeScale);
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`EMULATOR_TIME_SCALE must be a number > 0 (got "${timeScale}")`);
    options.timeScale = value;
  }
  const lifetime = int(env, 'EMULATOR_TOKEN_LIFETIME_SECONDS', 1);
  if (lifetime !== undefined) options.tokenLifetimeSeconds = lifetime;
  const rate = int(env, 'EMULATOR_RATE_LIMIT_PER_MINUTE', 1);
  if (rate !== undefined) options.rateLimitPerMinute = rate;
  const wrapped = env.EMULATOR_DETAILS_WRAPPED?.trim().toLowerCase();
  if (wrapped) {
    if (!['true', 'false', '1', '0', 'yes', 'no'].includes(wrapped)) {
      throw new Error(`EMULATOR_DETAILS_WRAPPED must be true or false (got "${wrapped}")`);
    }
    options.detailsWrapped = wrapped === 'true' || wrapped === '1' || wrapped === 'yes';
  }
  const seedPath = env.EMULATOR_SEED_PATH?.trim();
  if (seedPath) options.seedPath = seedPath;
  return options;
}

function int(env: Env, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer in ${min}..${max} (got "${raw}")`);
  }
  return value;
}

async function main(): Promise<void> {
  let options: EmulatorOptions;
  try {
    options = readOptions(process.env);
  } catch (error) {
    refuseStart((error as Error).message);
  }
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const emulator = await startEmulator(options).catch((error: unknown) => {
    const problem = listenProblem(error, 'EMULATOR_PORT', host, port, 'EMULATOR_HOST');
    if (problem) refuseStart(problem);
    throw error;
  });
  console.log(
    [
      `Maia emulator listening on ${emulator.url}`,
      `  Maia API base  ${emulator.apiBaseUrl}   (resources under ${emulator.apiBaseUrl}/v1/...)`,
      `  token URL      ${emulator.tokenUrl}`,
      `  control API    ${emulator.url}/__emulator/   (reset, config, faults, counters, executions)`,
      `  client id      ${emulator.clientId}`,
      `  client secret  ${emulator.clientSecret}`,
      `  time scale     ${options.timeScale ?? 1}`,
    ].join('\n'),
  );
  const shutdown = (signal: string) => {
    console.log(`${signal}: closing the Maia emulator`);
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error('Maia emulator failed to start:', error);
  process.exit(1);
});
