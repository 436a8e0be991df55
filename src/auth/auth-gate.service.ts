import { Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { RequestContext } from '../common/request-context';
import { RateLimiterService } from '../security/rate-limiter.service';
import { authStateOf, rememberAuthState, type AuthState } from './auth-state';
import { AuthService } from './auth.service';
import { type CredentialSource } from './credentials';
import { type Principal } from './principal';

export interface Admission {
  /** Objects identifying the request or connection; the state is remembered on each. */
  carriers: readonly unknown[];
  credentials: CredentialSource | undefined | null;
  ip: string;
  transport: AuthState['transport'];
}

/**
 * Authentication plus rate limiting, once per request or connection, shared by the guard, the GraphQL
 * HTTP plugin and the graphql-ws hooks so every transport admits callers the same way.
 */
@Injectable()
export class AuthGate {
  constructor(
    private readonly auth: AuthService,
    private readonly limiter: RateLimiterService,
  ) {}

  async admit(admission: Admission): Promise<AuthState> {
    let state = authStateOf(...admission.carriers);
    if (!state) {
      let principal: Principal;
      try {
        principal = await this.auth.authenticate(admission.credentials);
      } catch (error) {
        // Failed attempts spend the client IP's small budget: guessing keys is slow, and turns into 429s.
        if (GatewayError.is(error, ErrorCode.UNAUTHENTICATED)) await this.charge(undefined, admission.ip);
        throw error;
      }
      state = { principal, rateLimited: false, transport: admission.transport };
      rememberAuthState(state, ...admission.carriers);
    }
    if (!state.rateLimited && state.transport === 'http') {
      state.rateLimited = true;
      await this.charge(state.principal, admission.ip);
    }
    const ctx = RequestContext.current();
    if (ctx && !ctx.principal) ctx.principal = state.principal;
    return state;
  }

  /** False when rate limiting is off: `charge` then has nothing to do. */
  get limiting(): boolean {
    return this.limiter.enabled;
  }

  /** Charges one request (or graphql-ws operation) to the caller's budget; RATE_LIMITED when spent. */
  async charge(principal: Principal | undefined, ip: string): Promise<void> {
    // The sandbox principal is everyone: count it per IP like an anonymous caller.
    if (!principal || principal.kind === 'anonymous-sandbox') {
      await this.limiter.assertWithinLimit('unauthenticated', ip);
    } else {
      await this.limiter.assertWithinLimit('principal', principal.id);
    }
  }
}
