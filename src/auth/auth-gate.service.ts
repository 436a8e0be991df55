import { Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { type RequestContext } from '../common/request-context';
import { RateLimiterService } from '../security/rate-limiter.service';
import { AuthService } from './auth.service';
import { type CredentialSource } from './credentials';
import { type Principal } from './principal';

/** An HTTP request is charged when admitted; a graphql-ws connection per operation (see graphql-auth). */
export type AdmissionTransport = 'http' | 'ws';

/**
 * Admits the caller of one request or connection: authentication plus, for HTTP, one rate-limit charge.
 * The one implementation behind every edge (the guard, the GraphQL HTTP plugin, graphql-ws `onConnect`,
 * the hot-read front). The outcome is kept on the request's `RequestContext`, so whichever edge comes
 * later reads it instead of deciding (and charging) again.
 *
 * Synchronous when nothing needs waiting for (an API key, and rate limits off or the caller's local share
 * of its budget covering the request): the hot-read front answers without a promise then. A refusal is
 * thrown (synchronously or as a rejection).
 */
@Injectable()
export class AuthGate {
  constructor(
    private readonly auth: AuthService,
    private readonly limiter: RateLimiterService,
  ) {}

  /** `ip` is resolved only when a budget is charged: a hot read with rate limits off needs no proxy rules. */
  admit(
    ctx: RequestContext,
    credentials: CredentialSource | undefined | null,
    ip: () => string,
    transport: AdmissionTransport = 'http',
  ): Principal | Promise<Principal> {
    if (ctx.principal) return ctx.principal;
    if (ctx.refusal) throw ctx.refusal;
    let known: Principal | undefined;
    try {
      known = this.auth.authenticateNow(credentials);
    } catch (error) {
      return this.refuse(ctx, error, ip);
    }
    if (known) return this.admitted(ctx, known, ip, transport);
    return this.auth.authenticate(credentials).then(
      (principal) => this.admitted(ctx, principal, ip, transport),
      (error: unknown) => this.refuse(ctx, error, ip),
    );
  }

  /**
   * Charges one request (or graphql-ws operation) to the caller's budget; RATE_LIMITED when spent.
   * Synchronous (undefined, or a thrown refusal) when rate limiting is off or this replica's share of the
   * caller's budget decides; a promise only when the shared bucket must be asked.
   */
  charge(principal: Principal | undefined, ip: () => string): void | Promise<void> {
    if (!this.limiter.enabled) return undefined;
    // The sandbox principal is everyone: count it per IP like an anonymous caller.
    if (!principal || principal.kind === 'anonymous-sandbox') {
      return this.limiter.assertWithinLimit('unauthenticated', ip());
    }
    return this.limiter.assertWithinLimit('principal', principal.id);
  }

  private admitted(
    ctx: RequestContext,
    principal: Principal,
    ip: () => string,
    transport: AdmissionTransport,
  ): Principal | Promise<Principal> {
    let charging: void | Promise<void>;
    try {
      charging = transport === 'http' ? this.charge(principal, ip) : undefined;
    } catch (error) {
      return this.refuse(ctx, error, ip);
    }
    if (!charging) return (ctx.principal = principal);
    return charging.then(
      () => (ctx.principal = principal),
      (error: unknown) => this.refuse(ctx, error, ip),
    );
  }

  /** Remembers the refusal; failed authentications spend the client IP's small budget (guessing is slow). */
  private refuse(ctx: RequestContext, error: unknown, ip: () => string): never | Promise<never> {
    const fail = (reason: unknown): never => {
      if (reason instanceof Error) ctx.refusal = reason;
      throw reason;
    };
    let charging: void | Promise<void>;
    try {
      charging = GatewayError.is(error, ErrorCode.UNAUTHENTICATED) ? this.charge(undefined, ip) : undefined;
    } catch (overBudget) {
      return fail(overBudget);
    }
    if (!charging) return fail(error);
    return charging.then(() => fail(error), fail);
  }
}
