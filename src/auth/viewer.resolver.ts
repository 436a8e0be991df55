import { Query, Resolver } from '@nestjs/graphql';
import { CurrentPrincipal } from './current-principal.decorator';
import { ViewerKind, Viewer } from './models/viewer.model';
import { hasScope, type Principal, type PrincipalKind } from './principal';
import { RequireScope, scopes as allScopes } from './require-scope.decorator';

const kinds: Record<PrincipalKind, ViewerKind> = {
  'api-key': ViewerKind.API_KEY,
  jwt: ViewerKind.JWT,
  'anonymous-sandbox': ViewerKind.SANDBOX,
};

/** The caller's own identity, read from the principal the edge admitted (no other source). */
export function toViewer(principal: Principal): Viewer {
  return {
    name: principal.name,
    kind: kinds[principal.kind],
    scopes: allScopes.filter((scope) => hasScope(principal, scope)),
    allProjects: principal.projects === '*',
    projectIds: principal.projects === '*' ? [] : [...principal.projects].sort(),
    expiresAt: principal.expiresAt ?? null,
  };
}

@Resolver(() => Viewer)
export class ViewerResolver {
  @Query(() => Viewer, {
    description:
      "The caller: its name, scopes and visible projects, as this gateway admitted it (e.g. for a frontend to hide what the caller's scopes do not allow).",
  })
  @RequireScope('read')
  viewer(@CurrentPrincipal() principal: Principal): Viewer {
    return toViewer(principal);
  }
}
