import { SignJWT, base64url } from 'jose';
import { loadConfig } from '../config';
import { createSigningKey, JwksTestServer, type TestSigningKey } from '../../test/auth/jwks-test-server';
import {
  isCanonicalCompactJws,
  JwtAuthenticator,
  TokenRejected,
  type JwtSettings,
} from './jwt.authenticator';

const PROJECT_A = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';

describe('JwtAuthenticator', () => {
  let idp: JwksTestServer;
  let key1: TestSigningKey;
  let key2: TestSigningKey;
  let ecKey: TestSigningKey;

  function settings(overrides: Record<string, string> = {}): JwtSettings {
    const config = loadConfig({
      GATEWAY_MODE: 'development',
      AUTH_JWKS_URL: idp.url,
      AUTH_JWT_ISSUER: idp.issuer,
      AUTH_JWT_AUDIENCE: idp.audience,
      ...overrides,
    });
    return config.auth.jwt as JwtSettings;
  }

  async function rejection(authenticator: JwtAuthenticator, token: string): Promise<TokenRejected> {
    const error: unknown = await authenticator.authenticate(token).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TokenRejected);
    return error as TokenRejected;
  }

  beforeAll(async () => {
    [key1, key2, ecKey] = await Promise.all([
      createSigningKey('k1'),
      createSigningKey('k2'),
      createSigningKey('ec1', 'ES256'),
    ]);
  });

  beforeEach(async () => {
    idp = await new JwksTestServer().start();
    idp.published = [key1, ecKey];
  });

  afterEach(async () => {
    jest.useRealTimers();
    await idp.close();
  });

  it('turns a valid token into a principal with scopes and projects from its claims', async () => {
    const jwt = new JwtAuthenticator(settings());
    const token = await idp.sign(key1, {
      scope: 'read execute openid',
      maia_projects: [PROJECT_A.toUpperCase(), 'junk'],
    });
    const principal = await jwt.authenticate(token);
    expect(principal.id).toBe('jwt:user-1');
    expect(principal.kind).toBe('jwt');
    expect([...principal.scopes].sort()).toEqual(['execute', 'read']);
    expect(principal.projects).toEqual(new Set([PROJECT_A]));
    expect(principal.expiresAt?.getTime()).toBeGreaterThan(Date.now());
  });

  it('reads configurable claims: arrays, "*" and dotted paths', async () => {
    const jwt = new JwtAuthenticator(
      settings({
        AUTH_JWT_SCOPES_CLAIM: 'realm.roles',
        AUTH_JWT_PROJECTS_CLAIM: 'https://maia.example/projects',
      }),
    );
    const token = await idp.sign(ecKey, {
      realm: { roles: ['admin'] },
      'https://maia.example/projects': '*',
    });
    const principal = await jwt.authenticate(token);
    expect([...principal.scopes]).toEqual(['admin']);
    expect(principal.projects).toBe('*');
  });

  it('gives a token without a projects claim no project at all', async () => {
    const principal = await new JwtAuthenticator(settings()).authenticate(
      await idp.sign(key1, { scope: 'read' }),
    );
    expect(principal.projects).toEqual(new Set());
  });

  it('accepts a token expired within the 30 s leeway and refuses one expired beyond it', async () => {
    const jwt = new JwtAuthenticator(settings());
    const now = Math.floor(Date.now() / 1000);
    await expect(jwt.authenticate(await idp.sign(key1, { exp: now - 10 }))).resolves.toBeDefined();
    expect((await rejection(jwt, await idp.sign(key1, { exp: now - 60 }))).reason).toBe('ERR_JWT_EXPIRED');
  });

  it('refuses a token that is not valid yet (nbf beyond the leeway)', async () => {
    const jwt = new JwtAuthenticator(settings());
    const nbf = Math.floor(Date.now() / 1000) + 120;
    expect((await rejection(jwt, await idp.sign(key1, { nbf }))).reason).toBe(
      'ERR_JWT_CLAIM_VALIDATION_FAILED',
    );
  });

  it('refuses another issuer, another audience, and tokens without exp or subject', async () => {
    const jwt = new JwtAuthenticator(settings());
    await rejection(jwt, await idp.sign(key1, { iss: 'https://evil.test/' }));
    await rejection(jwt, await idp.sign(key1, { aud: 'another-app' }));
    await rejection(jwt, await idp.sign(key1, {}, { omitExp: true }));
    expect((await rejection(jwt, await idp.sign(key1, { sub: undefined }))).reason).toBe('missing sub claim');
  });

  it('refuses algorithms that are not configured: HS256 and none', async () => {
    const jwt = new JwtAuthenticator(settings());
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: idp.issuer, aud: idp.audience, sub: 'mallory', exp: now + 300, scope: 'admin' };
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .sign(new TextEncoder().encode('a-shared-secret-of-at-least-32-bytes!!'));
    await rejection(jwt, hs);
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify(claims))}.`;
    await rejection(jwt, none);
    // ES256 is allowed by default, RS256-only configuration refuses it.
    const rsOnly = new JwtAuthenticator(settings({ AUTH_JWT_ALGORITHMS: 'RS256' }));
    expect((await rejection(rsOnly, await idp.sign(ecKey))).reason).toBe('ERR_JOSE_ALG_NOT_ALLOWED');
  });

  it('refuses a forged signature', async () => {
    const jwt = new JwtAuthenticator(settings());
    const token = await idp.sign(key1, { scope: 'read' });
    const [header, , signature] = token.split('.');
    const forged = `${header}.${base64url.encode(JSON.stringify({ iss: idp.issuer, aud: idp.audience, sub: 'x', exp: 9_999_999_999, scope: 'admin' }))}.${signature}`;
    expect((await rejection(jwt, forged)).reason).toBe('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });

  it('refetches the key set for an unknown kid at most once per 30 s cooldown', async () => {
    // Only Date is faked: jose measures its cooldown with Date.now(), while the HTTP fetch needs real timers.
    jest.useFakeTimers({
      doNotFake: [
        'nextTick',
        'setImmediate',
        'clearImmediate',
        'setTimeout',
        'clearTimeout',
        'setInterval',
        'clearInterval',
        'queueMicrotask',
        'hrtime',
        'performance',
      ],
    });
    jest.setSystemTime(new Date('2026-11-28T12:00:00Z'));
    const jwt = new JwtAuthenticator(settings());
    await jwt.authenticate(await idp.sign(key1));
    expect(idp.fetches).toBe(1);

    // The provider rotates in k2; within the cooldown an unknown kid does not reach the provider.
    idp.published = [key1, key2];
    jest.setSystemTime(new Date('2026-11-28T12:00:10Z'));
    await rejection(jwt, await idp.sign(key2));
    await rejection(jwt, await idp.sign(key2));
    expect(idp.fetches).toBe(1);

    // Once 30 s have passed since the last fetch, one unknown kid refetches, and k2 is accepted.
    jest.setSystemTime(new Date('2026-11-28T12:00:31Z'));
    await expect(jwt.authenticate(await idp.sign(key2))).resolves.toMatchObject({ kind: 'jwt' });
    expect(idp.fetches).toBe(2);

    // A flood of forged kids right after that costs no further fetch.
    const forgedKid = { ...key1, kid: 'forged' };
    for (let i = 0; i < 5; i += 1) await rejection(jwt, await idp.sign(forgedKid));
    expect(idp.fetches).toBe(2);
  });

  describe('verified tokens remembered', () => {
    // Only Date is faked: jose reads the time with Date.now(), while the HTTP fetch needs real timers.
    const fakeDateOnly = (at: string): void => {
      jest.useFakeTimers({
        doNotFake: [
          'nextTick',
          'setImmediate',
          'clearImmediate',
          'setTimeout',
          'clearTimeout',
          'setInterval',
          'clearInterval',
          'queueMicrotask',
          'hrtime',
          'performance',
        ],
      });
      jest.setSystemTime(new Date(at));
    };

    it('answers a token verified before from memory, the same principal, without the key set', async () => {
      const jwt = new JwtAuthenticator(settings());
      const token = await idp.sign(key1, { scope: 'read' });
      expect(jwt.remembered(token)).toBeUndefined();
      const first = await jwt.authenticate(token);
      await idp.close();
      // Remembered: neither the provider (closed now) nor a signature check is needed.
      expect(jwt.remembered(token)).toBe(first);
      await expect(jwt.authenticate(token)).resolves.toBe(first);
      // Another token of the same subject is not answered by the first one's memory.
      const other = await idp.sign(key1, { scope: 'admin' });
      expect(jwt.remembered(other)).toBeUndefined();
      expect([...(await jwt.authenticate(other)).scopes]).toEqual(['admin']);
    });

    it('remembers only the canonical spelling: other spellings jose accepts are verified every time', async () => {
      const jwt = new JwtAuthenticator(settings());
      const token = await idp.sign(key1, { scope: 'read' });
      // jose decodes base64url leniently: a stray character after the signature still verifies.
      for (const variant of [`${token}~`, `${token}~~`, token.replace(/\.([^.]*)$/, '.~$1')]) {
        expect(isCanonicalCompactJws(variant)).toBe(false);
        await jwt.authenticate(variant);
        expect(jwt.remembered(variant)).toBeUndefined();
      }
      expect(jwt.remembered(token)).toBeUndefined();
      expect(isCanonicalCompactJws(token)).toBe(true);
      const principal = await jwt.authenticate(token);
      expect(jwt.remembered(token)).toBe(principal);
    });

    it('still refuses a remembered token from exp + leeway on, to the second, as verification does', async () => {
      fakeDateOnly('2026-11-28T12:00:00Z');
      const jwt = new JwtAuthenticator(settings());
      const exp = Math.floor(Date.now() / 1000) + 5;
      const token = await idp.sign(key1, { exp });
      const principal = await jwt.authenticate(token);
      // 30 s of leeway: the last second accepted is exp + 29.
      jest.setSystemTime(new Date((exp + 29) * 1000 + 999));
      expect(jwt.remembered(token)).toBe(principal);
      await expect(jwt.authenticate(token)).resolves.toBe(principal);
      jest.setSystemTime(new Date((exp + 30) * 1000));
      expect(jwt.remembered(token)).toBeUndefined();
      expect((await rejection(jwt, token)).reason).toBe('ERR_JWT_EXPIRED');
      // And verification agrees at that instant (the memory decides nothing verification would not).
      expect((await rejection(new JwtAuthenticator(settings()), token)).reason).toBe('ERR_JWT_EXPIRED');
    });

    it('verifies again once the key set is refetched: a withdrawn key is refused as soon as without memory', async () => {
      fakeDateOnly('2026-11-28T12:00:00Z');
      const jwt = new JwtAuthenticator(settings());
      const old = await idp.sign(key1);
      await jwt.authenticate(old);
      expect(jwt.remembered(old)).toBeDefined();

      // The provider rotates k1 out. Until jose refetches, its cached set still verifies k1 tokens.
      idp.published = [key2];
      jest.setSystemTime(new Date('2026-11-28T12:00:31Z'));
      await expect(jwt.authenticate(old)).resolves.toMatchObject({ kind: 'jwt' });
      expect(idp.fetches).toBe(1);
      // A k2 token (unknown kid, cooldown over) makes jose refetch: from then on k1 tokens are refused.
      await expect(jwt.authenticate(await idp.sign(key2))).resolves.toMatchObject({ kind: 'jwt' });
      expect(idp.fetches).toBe(2);
      expect(jwt.remembered(old)).toBeUndefined();
      expect((await rejection(jwt, old)).reason).toBe('ERR_JWKS_NO_MATCHING_KEY');
    });

    it('verifies again once the key set is older than AUTH_JWKS_CACHE_MAX_AGE_MS (refetched then)', async () => {
      fakeDateOnly('2026-11-28T12:00:00Z');
      const jwt = new JwtAuthenticator(settings({ AUTH_JWKS_CACHE_MAX_AGE_MS: '60000' }));
      const old = await idp.sign(key1);
      await jwt.authenticate(old);
      idp.published = [key2];
      jest.setSystemTime(new Date('2026-11-28T12:00:59Z'));
      expect(jwt.remembered(old)).toBeDefined();
      jest.setSystemTime(new Date('2026-11-28T12:01:00Z'));
      expect(jwt.remembered(old)).toBeUndefined();
      expect((await rejection(jwt, old)).reason).toBe('ERR_JWKS_NO_MATCHING_KEY');
      expect(idp.fetches).toBe(2);
    });

    it('never remembers a refusal, and keeps at most the configured number of tokens', async () => {
      const jwt = new JwtAuthenticator(settings(), 2);
      const expired = await idp.sign(key1, { exp: Math.floor(Date.now() / 1000) - 60 });
      await rejection(jwt, expired);
      expect(jwt.remembered(expired)).toBeUndefined();
      const tokens = await Promise.all(['a', 'b', 'c'].map((sub) => idp.sign(key1, { sub })));
      for (const token of tokens) await jwt.authenticate(token);
      expect(jwt.remembered(tokens[0])).toBeUndefined();
      expect(jwt.remembered(tokens[1])).toBeDefined();
      expect(jwt.remembered(tokens[2])).toBeDefined();
    });
  });

  it('says the key set is unavailable when the provider cannot be reached', async () => {
    const jwt = new JwtAuthenticator(settings());
    const token = await idp.sign(key1);
    await idp.close();
    const error = await rejection(jwt, token);
    expect(error.keySetUnavailable).toBe(true);
  });
});
