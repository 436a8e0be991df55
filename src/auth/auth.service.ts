import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { ErrorCode, GatewayError } from '../common/errors';
import { ApiKeyAuthenticator } from './api-key.authenticator';
import { credentialsFrom, type CredentialSource } from './credentials';
import { JwtAuthenticator, TokenRejected } from './jwt.authenticator';
import { SANDBOX_PRINCIPAL, type Principal } from './principal';

/** The one answer to every authentication failure: a wrong key and no key look the same. */
export const UNAUTHENTICATED_MESSAGE = 'Missing or invalid credentials';

export function unauthenticated(): GatewayError {
  return new GatewayError(ErrorCode.UNAUTHENTICATED, UNAUTHENTICATED_MESSAGE);
}

/**
 * Turns credentials (HTTP headers or a graphql-ws `connection_init` payload) into a `Principal`, or
 * throws `UNAUTHENTICATED`. It never says which part was wrong: missing, malformed, unknown, expired and
 * unverifiable credentials all answer alike (the reason goes to the debug log, without the credential).
 */
@Injectable()
export class AuthService implements OnModuleInit {
  private readonly logger = new Logger('Auth');
  private readonly apiKeys: ApiKeyAuthenticator;
  private readonly jwt: JwtAuthenticator | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.apiKeys = new ApiKeyAuthenticator(config.auth.apiKeys);
    this.jwt = config.auth.jwt ? new JwtAuthenticator(config.auth.jwt) : undefined;
  }

  /** True when every caller is the sandbox principal (sandbox/development only). */
  get disabled(): boolean {
    return this.config.auth.disabled;
  }

  onModuleInit(): void {
    if (this.disabled) {
      // One line: read as it is in a terminal and in a JSON log pipeline alike.
      this.logger.warn(
        `AUTHENTICATION IS DISABLED (${this.config.auth.mode} mode): every caller may read, execute, ` +
          'cancel and administer every project. Set AUTH_API_KEYS or AUTH_JWKS_URL (and unset AUTH_DISABLED) ' +
          'before exposing this gateway to anyone.',
      );
      return;
    }
    const methods = [
      this.apiKeys.size > 0 ? `${this.apiKeys.size} API key(s)` : undefined,
      this.jwt ? 'JWT bearer tokens' : undefined,
    ].filter(Boolean);
    this.logger.log(`Authentication on: ${methods.join(' and ')}`);
  }

  async authenticate(source: CredentialSource | undefined | null): Promise<Principal> {
    if (this.disabled) return SANDBOX_PRINCIPAL;
    const credentials = credentialsFrom(source);
    const known = this.decideNow(credentials);
    if (known) return known;
    // Only a bearer token with a JWKS configured is left: its signature is checked against the key set.
    try {
      return await (this.jwt as JwtAuthenticator).verify(credentials.bearerToken as string);
    } catch (error) {
      if (error instanceof TokenRejected) {
        if (error.keySetUnavailable) this.logger.warn(`JWT refused: ${error.reason}`);
        return this.refuse(`JWT refused: ${error.reason}`);
      }
      throw error;
    }
  }

  /**
   * What can be decided without waiting: the principal (authentication off, an API key, a JWT verified
   * before and still valid by the same key set), a refusal (throws `UNAUTHENTICATED`), or undefined for a
   * JWT that must be verified (then `authenticate`). Lets the hot-read front and the guard answer without
   * a promise per request.
   */
  authenticateNow(source: CredentialSource | undefined | null): Principal | undefined {
    return this.disabled ? SANDBOX_PRINCIPAL : this.decideNow(credentialsFrom(source));
  }

  private decideNow(credentials: ReturnType<typeof credentialsFrom>): Principal | undefined {
    if (credentials.malformed) return this.refuse('malformed credentials');
    if (credentials.apiKey !== undefined) {
      // An API key wins over a bearer token sent alongside; a wrong key is refused even then.
      return this.apiKeys.authenticate(credentials.apiKey) ?? this.refuse('unknown API key');
    }
    if (credentials.bearerToken !== undefined) {
      if (!this.jwt) return this.refuse('bearer token but no AUTH_JWKS_URL configured');
      return this.jwt.remembered(credentials.bearerToken);
    }
    return this.refuse('no credentials');
  }

  private refuse(reason: string): never {
    this.logger.debug(`Authentication failed: ${reason}`);
    throw unauthenticated();
  }
}
