import { Injectable } from '@nestjs/common';
import { ErrorCode, GatewayError } from '../common/errors';
import { hasScope, mayAccessProject, type Principal } from './principal';
import { type Scope } from './require-scope.decorator';

/**
 * The answer for a project the caller may not see, and the one to use for a project that does not exist:
 * the two must be indistinguishable, or ids could be probed.
 */
export function projectNotFound(projectId: string): GatewayError {
  // Worded as the projects service answers an id missing from the directory.
  return new GatewayError(ErrorCode.NOT_FOUND, `Project ${projectId} was not found`, { projectId });
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
    if (!mayAccessProject(principal, projectId)) throw projectNotFound(projectId);
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

  /**
   * Restricts an execution listing without a project to the caller's projects. One project becomes the
   * upstream filter; several are filtered after the fact (a page may then hold fewer items than asked,
   * its paging token stays valid); none means an empty answer without asking Maia at all.
   */
  restrictExecutionQuery<F extends { projectId?: string | null }>(
    principal: Principal,
    filter: F,
  ): { filter: F; visible: (item: { projectId: string }) => boolean; nothingVisible: boolean } {
    const visible = (item: { projectId: string }): boolean => mayAccessProject(principal, item.projectId);
    if (principal.projects === '*' || filter.projectId) return { filter, visible, nothingVisible: false };
    if (principal.projects.size === 0) return { filter, visible, nothingVisible: true };
    if (principal.projects.size === 1) {
      const [only] = principal.projects;
      return { filter: { ...filter, projectId: only }, visible, nothingVisible: false };
    }
    return { filter, visible, nothingVisible: false };
  }

  /**
   * A page of the projects the caller may see, cut from the full directory so `total` counts only those
   * (Maia's own pages count every project of the credential).
   */
  pageOfVisibleProjects<T extends { id: string }>(
    principal: Principal,
    directory: readonly T[],
    page: number,
    size: number,
  ): { page: number; size: number; total: number; results: T[] } {
    const visible = this.filterProjects(principal, directory);
    return { page, size, total: visible.length, results: visible.slice(page * size, page * size + size) };
  }
}
