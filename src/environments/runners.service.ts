import { Inject, Injectable } from '@nestjs/common';
import { CacheService } from '../cache/cache.service';
import { slicePage, type Page } from '../common/http/pagination';
import { MAIA_API, type MaiaAgent, type MaiaApi } from '../maia/maia.types';

/**
 * The account's runners (Maia's agents): what execute takes as `agentId`. Maia lists them for the whole
 * account, not per project, so the list is cached once (under no project) and pages are slices of it.
 */
@Injectable()
export class RunnersService {
  constructor(
    @Inject(MAIA_API) private readonly maia: MaiaApi,
    private readonly cache: CacheService,
  ) {}

  listAll(): Promise<MaiaAgent[]> {
    return this.cache.getOrLoad('agents', 'all', async () => {
      const all: MaiaAgent[] = [];
      for await (const agent of this.maia.allAgents()) all.push(agent);
      return all;
    });
  }

  async listPage(page: number, size: number): Promise<Page<MaiaAgent>> {
    return slicePage(await this.listAll(), page, size);
  }
}
