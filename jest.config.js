/** One `jest` run holds both projects: unit specs beside the code, end-to-end suites in test/. */
// Transpile only (tsconfig.jest.json sets isolatedModules): type errors are the typecheck step's job.
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/../tsconfig.jest.json', diagnostics: false }];
const common = {
  moduleFileExtensions: ['js', 'json', 'ts'],
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', rootDir: 'src', testRegex: '.*\\.spec\\.ts$' },
    { ...common, displayName: 'e2e', rootDir: 'test', testRegex: '.*\\.e2e-spec\\.ts$', slowTestThreshold: 30 },
  ],
  maxWorkers: 2,
  testTimeout: 60000,
};
