import { publishedPipelineNodeId } from '../graphql/node/node-id';
import type { MaiaPublishedPipeline } from '../maia/maia.types';
import type { PublishedPipelineDto } from './dto/published-pipeline.dto';
import type { PipelinesKey } from './pipelines.service';
import type { PublishedPipeline } from './models/published-pipeline.model';

export function toPublishedPipeline(key: PipelinesKey, pipeline: MaiaPublishedPipeline): PublishedPipeline {
  return {
    id: publishedPipelineNodeId(key.projectId, key.environmentName, pipeline.name),
    name: pipeline.name,
    publishedTime: pipeline.publishedTime,
    projectId: key.projectId,
    environmentName: key.environmentName,
  };
}

/** Maia's wire shape, for REST: as Maia sent it (`publishedTime` as written), or else built. */
export function toPublishedPipelineDto(pipeline: MaiaPublishedPipeline): PublishedPipelineDto {
  if (pipeline.asSent) return pipeline.asSent as unknown as PublishedPipelineDto;
  const out: PublishedPipelineDto = { name: pipeline.name };
  if (pipeline.publishedTime) out.publishedTime = pipeline.publishedTime;
  return out;
}
