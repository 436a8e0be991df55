import { Global, Module } from '@nestjs/common';
import { SecurityModule } from '../security/security.module';
import { AccessPolicy } from './access-policy';
import { AuthGate } from './auth-gate.service';
import { AuthService } from './auth.service';
import { ViewerResolver } from './viewer.resolver';

/**
 * Who may call the gateway: authentication, admission (with the rate limiter of `SecurityModule`) and
 * the access policy. `AppModule` puts `AuthGuard` in front of every REST route and GraphQL operation.
 */
@Global()
@Module({
  imports: [SecurityModule],
  providers: [AuthService, AccessPolicy, AuthGate, ViewerResolver],
  exports: [AuthService, AccessPolicy, AuthGate],
})
export class AuthModule {}
