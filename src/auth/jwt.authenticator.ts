import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
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
 * Verifies bearer JWTs against a remote JWKS: signature, issuer, audience, `exp`/`nbf` with a small
 * leeway, and only the configured algorithms (`none` never). The key set is cached; a token whose `kid`
 * is unknown refetches it at most once per cooldown (jose's `cooldownDuration`), so a flood of forged
 * `kid`s cannot turn into a flood of requests to the identity provider.
 */
export class JwtAuthenticator {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly settings: JwtSettings) {
    this.jwks = createRemoteJWKSet(new URL(settings.jwksUrl), {
      cooldownDuration: settings.jwksCooldownMs,
      cacheMaxAge: settings.jwksCacheMaxAgeMs,
      timeoutDuration: settings.jwksTimeoutMs,
    });
  }

  async authenticate(token: string): Promise<Principal> {
    const s = this.settings;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
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
