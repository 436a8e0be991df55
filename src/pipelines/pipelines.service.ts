import { Inject, Injectable } from '@nestjs/common';
import { CacheService } from '../cache/cache.service';
import { slicePage, type Page } from '../common/http/pagination';
import { MAIA_API, type MaiaApi, type MaiaPublishedPipeline } from '../maia/maia.types';

export interface PipelinesKey {
  projectId: string;
  environmentName: string;
}

/** A catalog to list: one environment's, or (REST, as Maia answers without one) every environment's. */
export type CatalogKey = { projectId: string; environmentName?: string };

/** Published pipelines of one environment (or all): the whole list is cached per (project, environment). */
@Injectable()
export class PipelinesService {
  constructor(
    @Inject(MAIA_API) private readonly maia: MaiaApi,
    private readonly cache: CacheService,
  ) {}

  /**
   * A stable key for a (project, environment) pair; environment names may hold any character and are never
   * empty, so the empty name stands for "every environment".
   */
  static keyOf({ projectId, environmentName }: CatalogKey): string {
    return `${projectId}:${encodeURIComponent(environmentName ?? '')}`;
  }

  listAll(key: CatalogKey): Promise<readonly MaiaPublishedPipeline[]> {
    return this.cache.getOrLoad(
      'pipelines',
      PipelinesService.keyOf(key),
      async () => {
        const all: MaiaPublishedPipeline[] = [];
        for await (const pipeline of this.maia.allPublishedPipelines(key.projectId, key.environmentName)) {
          all.push(pipeline);
        }
        return all;
      },
      // Shared, deep-frozen: every read of the catalog used to parse its own copy of the JSON.
      { projectId: key.projectId, readOnly: true },
    );
  }

  async listPage(key: CatalogKey, page: number, size: number): Promise<Page<MaiaPublishedPipeline>> {
    return slicePage(await this.listAll(key), page, size);
  }
}
