import { ErrorCode } from '../common/errors';
import { assertSafeName, assertUuid, encodePathSegment, isUuid } from './input-validation';

describe('input validation', () => {
  it('accepts UUIDs only', () => {
    expect(isUuid('4a8a6162-702b-4efc-b2ec-c986e0bc95e4')).toBe(true);
    for (const bad of [
      '',
      '../x',
      '4a8a6162-702b-4efc-b2ec-c986e0bc95e4/..',
      '4a8a6162702b4efcb2ecc986e0bc95e4',
      42,
    ]) {
      expect(isUuid(bad)).toBe(false);
    }
    expect(() => assertUuid('../etc', 'projectId')).toThrow(
      expect.objectContaining({
        code: ErrorCode.BAD_USER_INPUT,
        message: 'Invalid input: projectId must be a UUID',
      }),
    );
  });

  it('accepts names up to 255 characters without control characters', () => {
    expect(assertSafeName('FOLDER/load_orders.orch.yaml', 'pipelineName')).toBe(
      'FOLDER/load_orders.orch.yaml',
    );
    for (const bad of ['', 'x'.repeat(256), 'a\nb', 'a\u0000b', 'a\u007fb', 'a\u009bb']) {
      expect(() => assertSafeName(bad, 'name')).toThrow(
        expect.objectContaining({ code: ErrorCode.BAD_USER_INPUT }),
      );
    }
  });

  it('keeps every value inside one path segment and refuses dot segments', () => {
    const base = 'http://maia.test/dpc/v1/projects/';
    for (const value of ['../../admin', '..%2F..%2Fadmin', '...', 'a/b?c#d', '%2e%2e', './x']) {
      const url = new URL(`${base}${encodePathSegment(value)}/environments`);
      expect(url.pathname.startsWith('/dpc/v1/projects/')).toBe(true);
      expect(url.pathname.endsWith('/environments')).toBe(true);
      expect(url.pathname.split('/')).toHaveLength(6);
      expect(decodeURIComponent(url.pathname.split('/')[4])).toBe(value);
    }
    for (const value of ['', '.', '..']) {
      expect(() => encodePathSegment(value)).toThrow(
        expect.objectContaining({ code: ErrorCode.BAD_USER_INPUT }),
      );
    }
  });
});
