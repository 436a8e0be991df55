import { Inject, Injectable } from '@nestjs/common';
import { CacheService } from '../cache/cache.service';
import { slicePage, type Page } from '../common/http/pagination';
import { MAIA_API, type MaiaApi, type MaiaArtifact, type MaiaArtifactDetails } from '../maia/maia.types';
import { PipelinesService, type CatalogKey } from './pipelines.service';

/** Details are read a few at a time when a pipeline's versions are looked for among an environment's. */
const DETAILS_IN_FLIGHT = 4;

/**
 * Published versions (Maia's artifacts): what execute takes as `versionName`. The list of an environment
 * (or, for REST, of every environment) is cached whole, like published pipelines; each version's details
 * (the pipelines it holds) are cached apart, so a pipeline's versions cost Maia nothing once read.
 */
@Injectable()
export class PublishedVersionsService {
  constructor(
    @Inject(MAIA_API) private readonly maia: MaiaApi,
    private readonly cache: CacheService,
  ) {}

  listAll(key: CatalogKey): Promise<MaiaArtifact[]> {
    return this.cache.getOrLoad(
      'artifacts',
      `list:${PipelinesService.keyOf(key)}`,
      async () => {
        const all: MaiaArtifact[] = [];
        for await (const artifact of this.maia.allArtifacts(key.projectId, key.environmentName)) {
          all.push(artifact);
        }
        return all;
      },
      { projectId: key.projectId },
    );
  }

  async listPage(key: CatalogKey, page: number, size: number): Promise<Page<MaiaArtifact>> {
    return slicePage(await this.listAll(key), page, size);
  }

  details(projectId: string, environmentName: string, versionName: string): Promise<MaiaArtifactDetails> {
    return this.cache.getOrLoad(
      'artifacts',
      `details:${PipelinesService.keyOf({ projectId, environmentName })}:${encodeURIComponent(versionName)}`,
      () => this.maia.getArtifactDetails(projectId, environmentName, versionName),
      { projectId },
    );
  }

  /** Those of `versions` whose details hold the pipeline; details are read a few at a time. */
  static async holdingIn(
    versions: readonly MaiaArtifact[],
    pipelineName: string,
    details: (versionName: string) => Promise<MaiaArtifactDetails>,
  ): Promise<MaiaArtifact[]> {
    const holds: boolean[] = [];
    for (let from = 0; from < versions.length; from += DETAILS_IN_FLIGHT) {
      const batch = versions.slice(from, from + DETAILS_IN_FLIGHT);
      const read = await Promise.all(batch.map((a) => details(a.versionName)));
      holds.push(...read.map((d) => d.pipelineNames.includes(pipelineName)));
    }
    return versions.filter((_, index) => holds[index]);
  }
}
