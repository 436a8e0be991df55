import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/** What a replica shares with the others about the current token. */
export interface SharedToken {
  accessToken: string;
  /** Epoch milliseconds. */
  expiresAtMs: number;
  refreshAtMs: number;
}

const version = 'v1';
const ivBytes = 12;
const tagBytes = 16;

/**
 * Seals tokens for Redis with AES-256-GCM under a key derived (HKDF-SHA256) from the client secret, so a
 * token is never stored in plain text and only holders of the same credential can read it. The Redis key
 * name is bound as additional data, so a sealed value cannot be replayed under another key.
 */
export class TokenSealer {
  private readonly key: Buffer;

  constructor(clientSecret: string, context: string) {
    this.key = Buffer.from(
      hkdfSync('sha256', clientSecret, 'maia-gateway:token-cache:v1', `maia-token|${context}`, 32),
    );
  }

  seal(token: SharedToken, boundTo: string): string {
    const iv = randomBytes(ivBytes);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(boundTo, 'utf8'));
    const payload = JSON.stringify({ t: token.accessToken, e: token.expiresAtMs, r: token.refreshAtMs });
    const ciphertext = Buffer.concat([cipher.update(payload, 'utf8'), cipher.final()]);
    return `${version}.${Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url')}`;
  }

  /** The token, or null when the value is not ours (other secret, other key, tampered, old format). */
  open(sealed: string, boundTo: string): SharedToken | null {
    const [prefix, body] = sealed.split('.', 2);
    if (prefix !== version || !body) return null;
    try {
      const raw = Buffer.from(body, 'base64url');
      if (raw.length <= ivBytes + tagBytes) return null;
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, ivBytes));
      decipher.setAAD(Buffer.from(boundTo, 'utf8'));
      decipher.setAuthTag(raw.subarray(ivBytes, ivBytes + tagBytes));
      const json = Buffer.concat([
        decipher.update(raw.subarray(ivBytes + tagBytes)),
        decipher.final(),
      ]).toString('utf8');
      const value = JSON.parse(json) as { t?: unknown; e?: unknown; r?: unknown };
      if (typeof value.t !== 'string' || typeof value.e !== 'number' || typeof value.r !== 'number')
        return null;
      return { accessToken: value.t, expiresAtMs: value.e, refreshAtMs: value.r };
    } catch {
      return null;
    }
  }
}

/** A short, stable, non-secret name for one credential (client id, token URL, audience). */
export function credentialFingerprint(clientId: string, tokenUrl: string, audience: string): string {
  return createHash('sha256').update(`${clientId}\n${tokenUrl}\n${audience}`).digest('hex').slice(0, 16);
}
