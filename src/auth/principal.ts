import { type Scope, scopes as allScopes } from './require-scope.decorator';

export type PrincipalKind = 'api-key' | 'jwt' | 'anonymous-sandbox';

/**
 * Who is calling, as every layer sees it. `id` is stable per caller (rate limits, idempotency keys are
 * scoped by it); `projects` is `'*'` or the lower-case ids the caller may touch.
 */
export interface Principal {
  readonly id: string;
  readonly name: string;
  readonly kind: PrincipalKind;
  readonly scopes: ReadonlySet<Scope>;
  readonly projects: '*' | ReadonlySet<string>;
  /** When the credential stops being valid (JWTs); graphql-ws sockets are closed then. */
  readonly expiresAt?: Date;
}

// The request context's principal is ours: widen its declared shape to the full Principal.
declare module '../common/request-context' {
  interface RequestPrincipal {
    readonly name: string;
    readonly kind: PrincipalKind;
    readonly scopes: ReadonlySet<Scope>;
    readonly projects: '*' | ReadonlySet<string>;
    readonly expiresAt?: Date;
  }
}

/** The caller of a gateway whose authentication is disabled (sandbox/development only). */
export const SANDBOX_PRINCIPAL: Principal = Object.freeze({
  id: 'sandbox',
  name: 'sandbox (authentication disabled)',
  kind: 'anonymous-sandbox',
  scopes: new Set<Scope>(allScopes),
  projects: '*',
});

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.has('admin') || principal.scopes.has(scope);
}

export function mayAccessProject(principal: Principal, projectId: string): boolean {
  return principal.projects === '*' || principal.projects.has(projectId.toLowerCase());
}
