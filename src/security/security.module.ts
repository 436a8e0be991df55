import { Module } from '@nestjs/common';
import { GraphqlSecurity } from './graphql-security.service';
import { RateLimiterService } from './rate-limiter.service';

/** Request budgets and GraphQL limits. Knows nothing of who the caller is: `auth` builds on it. */
@Module({
  providers: [RateLimiterService, GraphqlSecurity],
  exports: [RateLimiterService, GraphqlSecurity],
})
export class SecurityModule {}
