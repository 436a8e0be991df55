import { Inject, Injectable } from '@nestjs/common';
import { AccessPolicy } from '../auth/access-policy';
import type { Principal } from '../auth/principal';
import { CacheService } from '../cache/cache.service';
import { ErrorCode, GatewayError } from '../common/errors';
import { type Page } from '../common/http/pagination';
import { MAIA_API, type MaiaApi, type MaiaProject } from '../maia/maia.types';

/**
 * Projects as the caller's credential sees them. Pages mirror Maia's `GET /v1/projects` and are cached per
 * page; lookups by id or name go through the cached project directory (every project, one walk).
 */
@Injectable()
export class ProjectsService {
  constructor(
    @Inject(MAIA_API) private readonly maia: MaiaApi,
    private readonly cache: CacheService,
    private readonly access: AccessPolicy,
  ) {}

  /** A page of projects; the page itself (no promise) when this process may answer it from memory. */
  listPage(
    page: number,
    size: number,
    principal?: Principal,
  ): Page<MaiaProject> | Promise<Page<MaiaProject>> {
    // A caller limited to some projects gets a page of those alone, totals included (cut from the directory).
    if (principal && principal.projects !== '*') {
      return this.directory().then((all) => this.access.pageOfVisibleProjects(principal, all, page, size));
    }
    // Shared, deep-frozen: every read of the page used to parse its own copy of the JSON.
    return this.cache.getOrLoadNow(
      'projects',
      `page:${page}:size:${size}`,
      () => this.maia.listProjects({ page, size }),
      { readOnly: true },
    );
  }

  /**
   * Every project, from the cached directory: one frozen array shared by every reader until the entry is
   * reloaded (the guard walks it on every project-scoped request; parsing it each time grew with the account).
   */
  directory(): Promise<readonly MaiaProject[]> {
    return this.cache.getOrLoad(
      'projectDirectory',
      'all',
      async () => {
        const all: MaiaProject[] = [];
        for await (const project of this.maia.allProjects()) all.push(project);
        return all;
      },
      { readOnly: true },
    );
  }

  async getById(id: string): Promise<MaiaProject> {
    // UUIDs in any case name the same project (Maia writes them in lower case; callers may not).
    const wanted = id.toLowerCase();
    const project = (await this.directory()).find((p) => p.id.toLowerCase() === wanted);
    if (!project)
      throw new GatewayError(ErrorCode.NOT_FOUND, `Project ${id} was not found`, { projectId: id });
    return project;
  }

  /** Names are not unique in Maia: two projects with the name → AMBIGUOUS_NAME, so nobody gets the wrong one. */
  async getByName(name: string, principal?: Principal): Promise<MaiaProject> {
    // Hidden projects are not candidates: neither a match nor a reason for AMBIGUOUS_NAME (nor its ids).
    const visible = principal
      ? this.access.filterProjects(principal, await this.directory())
      : await this.directory();
    const matches = visible.filter((p) => p.name === name);
    if (matches.length === 0)
      throw new GatewayError(ErrorCode.NOT_FOUND, 'No project has this name', { name });
    if (matches.length > 1) {
      throw new GatewayError(
        ErrorCode.AMBIGUOUS_NAME,
        `${matches.length} projects have this name; ask by id instead`,
        { name, matches: matches.length, projectIds: matches.map((p) => p.id).join(',') },
      );
    }
    return matches[0];
  }

  /** Exactly one of `id` and `name`. */
  find(selector: { id?: string | null; name?: string | null }, principal?: Principal): Promise<MaiaProject> {
    const hasId = selector.id != null;
    const hasName = selector.name != null;
    if (hasId === hasName) {
      return Promise.reject(new GatewayError(ErrorCode.BAD_USER_INPUT, 'Give exactly one of id and name'));
    }
    return hasId ? this.getById(selector.id as string) : this.getByName(selector.name as string, principal);
  }
}
