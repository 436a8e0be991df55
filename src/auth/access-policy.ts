import { Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { hasScope, mayAccessProject, type Principal } from './principal';
import { type Scope } from './require-scope.decorator';

/**
 * The answer for a project the caller may not see, and the one to use for a project that does not exist:
 * the two must be indistinguishable, or ids could be probed.
 */
export function projectNotFound(): GatewayError {
  return new GatewayError(ErrorCode.NOT_FOUND, 'Project not found');
}

export function missingScope(scope: Scope): GatewayError {
  return new GatewayError(ErrorCode.FORBIDDEN, `This operation needs the "${scope}" scope`, { scope });
}

/** What a principal may do and see. Pure: no I/O, safe to call anywhere. */
@Injectable()
export class AccessPolicy {
  hasScope(principal: Principal, scope: Scope): boolean {
    return hasScope(principal, scope);
  }

  /** FORBIDDEN (403) unless the principal holds `scope` (or `admin`). */
  assertScope(principal: Principal, scope: Scope): void {
    if (!hasScope(principal, scope)) throw missingScope(scope);
  }

  canSeeProject(principal: Principal, projectId: string): boolean {
    return mayAccessProject(principal, projectId);
  }

  /** NOT_FOUND (404), worded as for a missing project, unless the principal may touch `projectId`. */
  assertProject(principal: Principal, projectId: string): void {
    if (!mayAccessProject(principal, projectId)) throw projectNotFound();
  }

  /** The items of projects the principal may see, in their order. */
  filterProjects<T extends { id: string }>(principal: Principal, projects: readonly T[]): T[] {
    if (principal.projects === '*') return [...projects];
    return projects.filter((p) => mayAccessProject(principal, p.id));
  }

  /** The items (executions, events...) whose `projectId` the principal may see. */
  filterByProject<T extends { projectId: string }>(principal: Principal, items: readonly T[]): T[] {
    if (principal.projects === '*') return [...items];
    return items.filter((i) => mayAccessProject(principal, i.projectId));
  }
}
