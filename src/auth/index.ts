export { AccessPolicy, missingScope, projectNotFound } from './access-policy';
export { AuthGate } from './auth-gate.service';
export { AuthGuard } from './auth.guard';
export { AuthModule } from './auth.module';
export { AuthService, UNAUTHENTICATED_MESSAGE, unauthenticated } from './auth.service';
export { CurrentPrincipal, principalOf, principalOfGraphqlContext } from './current-principal.decorator';
export {
  hasScope,
  mayAccessProject,
  SANDBOX_PRINCIPAL,
  type Principal,
  type PrincipalKind,
} from './principal';
export { ProjectIdArgs } from './project-args.decorator';
export { Public } from './public.decorator';
export { RequireScope, REQUIRED_SCOPE, scopes, type Scope } from './require-scope.decorator';
