import { publishedPipelineNodeId } from '../graphql/node/node-id';
import type { MaiaArtifact, MaiaArtifactDetails, MaiaPublishedPipeline } from '../maia/maia.types';
import type { ArtifactDetailsDto, ArtifactDto } from './dto/published-version.dto';
import type { PublishedVersion } from './models/published-version.model';
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

/** `environmentName` is the one asked for when Maia leaves it out of an artifact. */
export function toPublishedVersion(environmentName: string, artifact: MaiaArtifact): PublishedVersion {
  return {
    versionName: artifact.versionName,
    environmentName: artifact.environmentName ?? environmentName,
    createdAt: artifact.createdAt,
    enabled: artifact.enabled,
  };
}

export function toArtifactDto(artifact: MaiaArtifact): ArtifactDto {
  if (artifact.asSent) return artifact.asSent as unknown as ArtifactDto;
  const out: ArtifactDto = { versionName: artifact.versionName };
  if (artifact.environmentName !== null) out.environmentName = artifact.environmentName;
  if (artifact.createdAt !== null) out.createdAt = artifact.createdAt;
  if (artifact.enabled !== null) out.enabled = artifact.enabled;
  return out;
}

export function toArtifactDetailsDto(details: MaiaArtifactDetails): ArtifactDetailsDto {
  if (details.asSent) return details.asSent as unknown as ArtifactDetailsDto;
  return {
    artifactDetails: toArtifactDto(details.artifact),
    pipelines: details.pipelineNames.map((name) => ({ name })),
  };
}
