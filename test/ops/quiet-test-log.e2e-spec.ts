import { Logger } from '@nestjs/common';

/**
 * The test log shows what broke, not what a suite provoked on purpose: Nest's default logger (services
 * built without an application) prints errors only in every suite (test/support/quiet-nest-logger.ts).
 */
describe("Nest's default logger in the suites", () => {
  it('prints errors, and not the debug, log and warn lines of services under test', () => {
    const printed: string[] = [];
    const capture = (chunk: unknown) => (printed.push(String(chunk)), true);
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      const logger = new Logger('RedisService');
      logger.debug('Redis commands: connect ECONNREFUSED 127.0.0.1:1');
      logger.log('Redis connected');
      logger.warn('Redis is not reachable yet: continuing on memory until it is');
      logger.error('a real error');
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    expect(printed).toHaveLength(1);
    expect(printed[0]).toContain('a real error');
  });
});
