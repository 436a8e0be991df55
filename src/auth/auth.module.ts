import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { GraphqlSecurity } from '../security/graphql-security.service';
import { RateLimiterService } from '../security/rate-limiter.service';
import { AccessPolicy } from './access-policy';
import { AuthGate } from './auth-gate.service';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';

/**
 * Who may call the gateway. Importing it (once, in AppModule) puts `AuthGuard` in front of every REST
 * route and GraphQL operation; `GraphqlSecurity` gives the GraphQL module its limits and socket auth.
 */
@Global()
@Module({
  providers: [
    AuthService,
    AccessPolicy,
    RateLimiterService,
    AuthGate,
    GraphqlSecurity,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [AuthService, AccessPolicy, RateLimiterService, AuthGate, GraphqlSecurity],
})
export class AuthModule {}
