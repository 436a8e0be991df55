import { ErrorCode, GatewayError } from '../common/errors';
import { RequestContext } from '../common/request-context';
import { loadConfig } from '../config';
import type { RateLimiterService } from '../security/rate-limiter.service';
import { hashApiKey } from './api-key.authenticator';
import { AuthGate } from './auth-gate.service';
import { AuthService } from './auth.service';

const KEY = 'reader-key-0123456789';
const IP = '192.0.2.7';
const ip = () => IP;

const authService = new AuthService(
  loadConfig({
    GATEWAY_MODE: 'development',
    LOG_LEVEL: 'silent',
    AUTH_API_KEYS: JSON.stringify([
      { name: 'reader', sha256: hashApiKey(KEY), scopes: ['read'], projects: ['*'] },
    ]),
  }),
);

type Charge = [string, string];

/**
 * A strict rate limiter double: records each charge, refuses the ones `refuse` names, nothing else. It
 * decides as a promise (the shared bucket asked) or, with `synchronous`, at once (a local share covering
 * the request, or a refusal still fresh), as the real limiter does.
 */
function limiter(
  enabled: boolean,
  refuse: (charge: Charge) => boolean = () => false,
  { synchronous = false } = {},
) {
  const charges: Charge[] = [];
  const decide = (cls: string, clientKey: string): void => {
    if (!enabled) throw new Error('charged while rate limiting is off');
    charges.push([cls, clientKey]);
    if (refuse([cls, clientKey])) {
      throw new GatewayError(ErrorCode.RATE_LIMITED, 'Too many requests', { retryAfterSeconds: 1 });
    }
  };
  const double = {
    enabled,
    assertWithinLimit: (cls: string, clientKey: string): void | Promise<void> =>
      synchronous ? decide(cls, clientKey) : Promise.resolve().then(() => decide(cls, clientKey)),
  };
  return { charges, limiter: double as unknown as RateLimiterService };
}

async function outcome(admission: () => unknown): Promise<unknown> {
  try {
    return await admission();
  } catch (error) {
    return error;
  }
}

describe('AuthGate', () => {
  it('admits synchronously when nothing needs waiting for, and once per request', () => {
    const gate = new AuthGate(authService, limiter(false).limiter);
    const ctx = new RequestContext('r1');
    const principal = gate.admit(ctx, { 'x-api-key': KEY }, ip);
    expect(principal).not.toBeInstanceOf(Promise);
    expect(ctx.principal).toBe(principal);
    // A later edge reads the outcome, whatever it is handed.
    expect(gate.admit(ctx, { 'x-api-key': 'another' }, ip)).toBe(principal);
  });

  it('admits synchronously when the limiter decides at once, and refuses synchronously too', () => {
    const { charges, limiter: rateLimiter } = limiter(true, ([cls]) => cls === 'unauthenticated', {
      synchronous: true,
    });
    const gate = new AuthGate(authService, rateLimiter);
    const ctx = new RequestContext('r5');
    const principal = gate.admit(ctx, { 'x-api-key': KEY }, ip);
    expect(principal).not.toBeInstanceOf(Promise);
    expect(ctx.principal).toBe(principal);
    // A wrong key spends the IP's budget, refused at once: RATE_LIMITED, remembered for later edges.
    const refused = new RequestContext('r6');
    expect(() => gate.admit(refused, { 'x-api-key': 'wrong' }, ip)).toThrow(GatewayError);
    expect(GatewayError.is(refused.refusal, ErrorCode.RATE_LIMITED)).toBe(true);
    expect(charges).toEqual([
      ['principal', 'api-key:reader'],
      ['unauthenticated', IP],
    ]);
  });

  it('refuses a caller over its budget synchronously when the limiter knows at once', () => {
    const { limiter: rateLimiter } = limiter(true, ([cls]) => cls === 'principal', { synchronous: true });
    const gate = new AuthGate(authService, rateLimiter);
    const ctx = new RequestContext('r7');
    expect(() => gate.admit(ctx, { 'x-api-key': KEY }, ip)).toThrow(GatewayError);
    expect(GatewayError.is(ctx.refusal, ErrorCode.RATE_LIMITED)).toBe(true);
    expect(ctx.principal).toBeUndefined();
  });

  it('charges an HTTP request once, however many edges admit it; a socket not at all', async () => {
    const { charges, limiter: rateLimiter } = limiter(true);
    const gate = new AuthGate(authService, rateLimiter);
    const ctx = new RequestContext('r2');
    const principal = await gate.admit(ctx, { 'x-api-key': KEY }, ip);
    expect(await gate.admit(ctx, { 'x-api-key': KEY }, ip)).toBe(principal);
    expect(charges).toEqual([['principal', 'api-key:reader']]);
    await gate.admit(new RequestContext('socket'), { 'x-api-key': KEY }, ip, 'ws');
    expect(charges).toHaveLength(1);
  });

  it('remembers a refusal: a wrong key is charged to the IP once, and refused again without asking', async () => {
    const { charges, limiter: rateLimiter } = limiter(true);
    const gate = new AuthGate(authService, rateLimiter);
    const ctx = new RequestContext('r3');
    const first = await outcome(() => gate.admit(ctx, { 'x-api-key': 'wrong' }, ip));
    expect(GatewayError.is(first, ErrorCode.UNAUTHENTICATED)).toBe(true);
    expect(await outcome(() => gate.admit(ctx, { 'x-api-key': KEY }, ip))).toBe(first);
    expect(charges).toEqual([['unauthenticated', IP]]);
    expect(ctx.principal).toBeUndefined();
  });

  it('refuses a caller over its budget once, with RATE_LIMITED', async () => {
    const { charges, limiter: rateLimiter } = limiter(true, ([cls]) => cls === 'principal');
    const gate = new AuthGate(authService, rateLimiter);
    const ctx = new RequestContext('r4');
    const first = await outcome(() => gate.admit(ctx, { 'x-api-key': KEY }, ip));
    expect(GatewayError.is(first, ErrorCode.RATE_LIMITED)).toBe(true);
    expect(await outcome(() => gate.admit(ctx, { 'x-api-key': KEY }, ip))).toBe(first);
    expect(charges).toHaveLength(1);
    expect(ctx.principal).toBeUndefined();
  });
});
