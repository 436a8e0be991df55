import { Inject, Injectable } from '@nestjs/common';
import { CacheService } from '../cache/cache.service';
import { ErrorCode, GatewayError } from '../common/errors';
import { slicePage, type Page } from '../common/http/pagination';
import { MAIA_API, type MaiaApi, type MaiaEnvironment } from '../maia/maia.types';

/** Environments of a project: the whole list is cached per project (lists are short); pages are slices of it. */
@Injectable()
export class EnvironmentsService {
  constructor(
    @Inject(MAIA_API) private readonly maia: MaiaApi,
    private readonly cache: CacheService,
  ) {}

  listAll(projectId: string): Promise<readonly MaiaEnvironment[]> {
    return this.cache.getOrLoad(
      'environments',
      projectId,
      async () => {
        const all: MaiaEnvironment[] = [];
        for await (const environment of this.maia.allEnvironments(projectId)) all.push(environment);
        return all;
      },
      // Shared, deep-frozen: every read of the list used to parse its own copy of the JSON.
      { projectId, readOnly: true },
    );
  }

  async listPage(projectId: string, page: number, size: number): Promise<Page<MaiaEnvironment>> {
    return slicePage(await this.listAll(projectId), page, size);
  }

  async getByName(projectId: string, name: string): Promise<MaiaEnvironment> {
    return EnvironmentsService.pick(await this.listAll(projectId), projectId, name);
  }

  /** The environment of that name in an already loaded list, or NOT_FOUND. */
  static pick(environments: readonly MaiaEnvironment[], projectId: string, name: string): MaiaEnvironment {
    const environment = environments.find((e) => e.name === name);
    if (!environment) {
      throw new GatewayError(ErrorCode.NOT_FOUND, 'The project has no environment with this name', {
        projectId,
        environmentName: name,
      });
    }
    return environment;
  }
}
