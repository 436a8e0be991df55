/** One `jest` run holds both projects: unit specs beside the code, end-to-end suites in test/. */
const tsJest = ['ts-jest', { isolatedModules: true, diagnostics: false }];
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
