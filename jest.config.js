/**
 * Three projects in one `jest` run:
 * - unit: `*.spec.ts` beside the code; no network, no Redis;
 * - integration: `*.int-spec.ts` beside the code; a real Redis on TEST_REDIS_URL (127.0.0.1:6379);
 * - e2e: `test/**\/*.e2e-spec.ts`; whole gateways against the emulator and a real Redis.
 */
// Transpile only (tsconfig.jest.json sets isolatedModules): type errors are the typecheck step's job.
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/../tsconfig.jest.json', diagnostics: false }];
const common = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  // Nest's default logger prints errors only (test/support/quiet-nest-logger.ts).
  setupFiles: ['<rootDir>/../test/support/quiet-nest-logger.ts'],
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', rootDir: 'src', testRegex: '.*\\.spec\\.ts$' },
    { ...common, displayName: 'integration', rootDir: 'src', testRegex: '.*\\.int-spec\\.ts$' },
    {
      ...common,
      displayName: 'e2e',
      rootDir: 'test',
      testRegex: '.*\\.e2e-spec\\.ts$',
      slowTestThreshold: 30,
    },
  ],
  maxWorkers: 2,
  testTimeout: 60000,
};
