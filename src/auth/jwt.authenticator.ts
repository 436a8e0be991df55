import { hash } from 'node:crypto';
import {
  createRemoteJWKSet,
  errors as joseErrors,
  jwksCache,
  jwtVerify,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type JWTPayload,
  type KeyLike,
} from 'jose';
import { type AuthConfig } from '../config/auth.config';
import { type Principal } from './principal';
import { scopes as knownScopes, type Scope } from './require-scope.decorator';
import { UUID_PATTERN } from '../common/validation/uuid';

export type JwtSettings = NonNullable<AuthConfig['jwt']>;

/** Why a token was refused: for logs only, never for the caller (every refusal answers the same). */
export class TokenRejected extends Error {
  constructor(
    readonly reason: string,
    /** The key set could not be fetched: the caller may be right, the gateway cannot tell. */
    readonly keySetUnavailable = false,
  ) {
    super(reason);
    this.name = 'TokenRejected';
  }
}

/** A claim by its literal name (URLs as claim names contain dots), else by dotted path (`realm.roles`). */
function claim(payload: JWTPayload, name: string): unknown {
  if (name in payload) return payload[name];
  let value: unknown = payload;
  for (const part of name.split('.')) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** A space- or comma-separated string, or an array of strings. */
function listClaim(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/[\s,]+/).filter((s) => s !== '');
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/**
 * Verified tokens remembered at most (least recently verified go first): each holds a principal and a
 * 44-character digest, so the bound keeps the memory small whatever the tokens' length.
 */
export const VERIFIED_TOKENS_MAX = 10_000;

/** A token verified before: what it proved, and until when that may be repeated without checking again. */
interface Verified {
  principal: Principal;
  /** Seconds since the epoch: the token is refused from `exp + clockTolerance` on, as jose refuses it. */
  refuseFromSeconds: number;
  /** The key set (as fetched) that verified it: a refetched key set verifies the token again. */
  keySet: unknown;
}

/**
 * Verifies bearer JWTs against a remote JWKS: signature, issuer, audience, `exp`/`nbf` with a small
 * leeway, and only the configured algorithms (`none` never). The key set is cached; a token whose `kid`
 * is unknown refetches it at most once per cooldown (jose's `cooldownDuration`), so a flood of forged
 * `kid`s cannot turn into a flood of requests to the identity provider.
 *
 * A token verified once is remembered (by its SHA-256, bounded by `VERIFIED_TOKENS_MAX`) with its
 * principal, so a caller's next requests cost a hash instead of a signature check (ADR 0038). The memory
 * answers only what verifying again would: only while the token is within `exp` plus the leeway (jose's
 * own test, to the second), and only while the key set that verified it is still the one jose holds and
 * still fresh (within `AUTH_JWKS_CACHE_MAX_AGE_MS`). When jose refetches the key set (its age, or an
 * unknown `kid`), every remembered token is verified again against the new one, so a key withdrawn from
 * the set is refused exactly as soon as without the memory. Refusals are never remembered.
 */
export class JwtAuthenticator {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  /** What jose keeps of the key set: it writes every fetched set here (`jwks` is a new object each time). */
  private readonly keySetCache: { jwks?: unknown; uat?: number } = {};
  private readonly verified = new Map<string, Verified>();

  constructor(
    private readonly settings: JwtSettings,
    private readonly rememberedMax = VERIFIED_TOKENS_MAX,
  ) {
    this.jwks = createRemoteJWKSet(new URL(settings.jwksUrl), {
      cooldownDuration: settings.jwksCooldownMs,
      cacheMaxAge: settings.jwksCacheMaxAgeMs,
      timeoutDuration: settings.jwksTimeoutMs,
      [jwksCache]: this.keySetCache as never,
    });
  }

  /** The principal of a token verified before and still valid by the same key set, else undefined. */
  remembered(token: string): Principal | undefined {
    if (this.verified.size === 0) return undefined;
    const digest = hash('sha256', token, 'base64');
    const entry = this.verified.get(digest);
    if (!entry) return undefined;
    if (
      Math.floor(Date.now() / 1000) >= entry.refuseFromSeconds ||
      entry.keySet !== this.keySetCache.jwks ||
      !this.jwks.fresh
    ) {
      this.verified.delete(digest);
      return undefined;
    }
    return entry.principal;
  }

  /** The token's principal: remembered, or verified now. Rejects with `TokenRejected`. */
  async authenticate(token: string): Promise<Principal> {
    return this.remembered(token) ?? this.verify(token);
  }

  /** Verifies the token (signature and claims) whether or not it is remembered, and remembers it. */
  async verify(token: string): Promise<Principal> {
    const s = this.settings;
    let payload: JWTPayload;
    // The key set the signature is checked with, read as jose hands over the key (only microtasks
    // between the two: no fetch can complete in between).
    let keySet: unknown;
    const keyOf = (header: JWSHeaderParameters, input: FlattenedJWSInput): Promise<KeyLike> =>
      this.jwks(header, input).then((key) => {
        keySet = this.keySetCache.jwks;
        return key;
      });
    try {
      ({ payload } = await jwtVerify(token, keyOf, {
        issuer: s.issuer,
        audience: s.audience,
        algorithms: s.algorithms,
        clockTolerance: s.clockToleranceSeconds,
        // Without exp a token would live forever, and a socket could never be closed at its expiry.
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      throw JwtAuthenticator.rejection(error);
    }
    const principal = this.principalOf(payload);
    this.remember(token, principal, (payload.exp as number) + s.clockToleranceSeconds, keySet);
    return principal;
  }

  private principalOf(payload: JWTPayload): Principal {
    const s = this.settings;
    const subject = claim(payload, s.subjectClaim);
    if (typeof subject !== 'string' || subject === '' || subject.length > 256) {
      throw new TokenRejected(`missing ${s.subjectClaim} claim`);
    }
    const scopes = new Set<Scope>(
      listClaim(claim(payload, s.scopesClaim)).filter((v): v is Scope =>
        (knownScopes as readonly string[]).includes(v),
      ),
    );
    const projectValues = listClaim(claim(payload, s.projectsClaim));
    const projects = projectValues.includes('*')
      ? ('*' as const)
      : new Set(projectValues.filter((p) => UUID_PATTERN.test(p)).map((p) => p.toLowerCase()));
    return Object.freeze({
      id: `jwt:${subject}`,
      name: subject,
      kind: 'jwt' as const,
      scopes,
      projects,
      expiresAt: new Date((payload.exp as number) * 1000),
    });
  }

  private remember(token: string, principal: Principal, refuseFromSeconds: number, keySet: unknown): void {
    // A key set refetched since (by another request) verifies the token again on its next use.
    if (keySet === undefined || keySet !== this.keySetCache.jwks) return;
    // Only the canonical spelling is remembered: jose decodes base64url leniently, so one valid token has
    // endless accepted spellings (padding, '+' for '-', spare bits), and remembering each would let one
    // caller push everyone else's tokens out. Other spellings are still verified, every time.
    if (!isCanonicalCompactJws(token)) return;
    const digest = hash('sha256', token, 'base64');
    this.verified.delete(digest);
    this.verified.set(digest, { principal, refuseFromSeconds, keySet });
    if (this.verified.size > this.rememberedMax) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
  }

  private static rejection(error: unknown): TokenRejected {
    if (error instanceof joseErrors.JWKSTimeout) return new TokenRejected('key set fetch timed out', true);
    if (error instanceof joseErrors.JOSEError) return new TokenRejected(error.code);
    if (error instanceof TypeError || (error as { code?: unknown })?.code !== undefined) {
      // Network failures of the key set fetch (ECONNREFUSED, bad JSON from the JWKS URL...).
      return new TokenRejected(`key set unavailable: ${(error as Error).message}`, true);
    }
    return new TokenRejected(`unverifiable token: ${(error as Error)?.message ?? String(error)}`);
  }
}

/** Three dot-separated parts, each exactly the unpadded base64url encoding of the bytes it decodes to. */
export function isCanonicalCompactJws(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  return parts.every(
    (part) =>
      part.length > 0 &&
      /^[A-Za-z0-9_-]+$/.test(part) &&
      Buffer.from(part, 'base64url').toString('base64url') === part,
  );
}
