import { credentialFingerprint, TokenSealer } from './maia-token-crypto';

describe('TokenSealer', () => {
  const token = { accessToken: 'tok-7f3a9c1e5b2d4f6a8c0e', expiresAtMs: 1_800_000, refreshAtMs: 1_740_000 };

  it('round-trips a token and never stores it in plain text', () => {
    const sealer = new TokenSealer('sandbox-secret', 'ctx');
    const sealed = sealer.seal(token, 'mg:maia:token:abc');
    expect(sealed).not.toContain(token.accessToken);
    expect(Buffer.from(sealed.slice(3), 'base64url').toString('latin1')).not.toContain(token.accessToken);
    expect(sealer.open(sealed, 'mg:maia:token:abc')).toEqual(token);
  });

  it('uses a fresh IV each time', () => {
    const sealer = new TokenSealer('sandbox-secret', 'ctx');
    expect(sealer.seal(token, 'k')).not.toBe(sealer.seal(token, 'k'));
  });

  it('refuses another secret, another key name and tampered values', () => {
    const sealed = new TokenSealer('sandbox-secret', 'ctx').seal(token, 'k');
    expect(new TokenSealer('other-secret', 'ctx').open(sealed, 'k')).toBeNull();
    expect(new TokenSealer('sandbox-secret', 'ctx').open(sealed, 'other-key')).toBeNull();
    const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
    expect(new TokenSealer('sandbox-secret', 'ctx').open(tampered, 'k')).toBeNull();
    expect(new TokenSealer('sandbox-secret', 'ctx').open('plain', 'k')).toBeNull();
  });

  it('fingerprints credentials without revealing the client id', () => {
    const fp = credentialFingerprint('sandbox-client', 'http://x/token', 'aud');
    expect(fp).toMatch(/^[0-9a-f]{16}$/);
    expect(fp).not.toBe(credentialFingerprint('second-client', 'http://x/token', 'aud'));
  });
});
