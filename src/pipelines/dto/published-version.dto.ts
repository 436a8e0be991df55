import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { PageQueryDto } from '../../common/http/page-query.dto';
import { SANDBOX_EXAMPLE } from '../../common/http/sandbox-examples';
import { IsSafeName } from '../../common/validation';

export class ArtifactsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    example: SANDBOX_EXAMPLE.environmentName,
    description:
      'The environment whose published versions to list. Without it, those of every environment the credential sees.',
  })
  @IsOptional()
  @IsSafeName()
  environmentName?: string;
}

export class ArtifactDetailsQueryDto {
  @ApiProperty({ example: SANDBOX_EXAMPLE.environmentName })
  @IsSafeName()
  environmentName!: string;

  @ApiProperty({ example: SANDBOX_EXAMPLE.versionName })
  @IsSafeName()
  versionName!: string;
}

/** A published version (Maia's artifact), REST. */
export class ArtifactDto {
  @ApiProperty({ example: SANDBOX_EXAMPLE.versionName, description: 'What execute takes as versionName.' })
  versionName!: string;
  @ApiPropertyOptional({ example: SANDBOX_EXAMPLE.environmentName })
  environmentName?: string;
  @ApiPropertyOptional({ format: 'date-time' })
  createdAt?: string;
  @ApiPropertyOptional()
  enabled?: boolean;
}

export class ArtifactPageDto {
  @ApiProperty()
  page!: number;
  @ApiProperty()
  size!: number;
  @ApiProperty()
  total!: number;
  @ApiProperty({ type: [ArtifactDto] })
  results!: ArtifactDto[];
}

export class ArtifactPipelineDto {
  @ApiProperty({ example: SANDBOX_EXAMPLE.pipelineName })
  name!: string;
}

export class ArtifactDetailsDto {
  @ApiProperty({ type: ArtifactDto })
  artifactDetails!: ArtifactDto;
  @ApiProperty({ type: [ArtifactPipelineDto], description: 'The pipelines this version holds.' })
  pipelines!: ArtifactPipelineDto[];
}
