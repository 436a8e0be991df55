import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { PageQueryDto } from '../../common/http/page-query.dto';
import { SANDBOX_EXAMPLE } from '../../common/http/sandbox-examples';
import { IsSafeName } from '../../common/validation';

export class PublishedPipelinesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    example: SANDBOX_EXAMPLE.environmentName,
    description:
      'The environment whose published pipelines to list. Without it, as Maia answers: what is published to any environment of the project.',
  })
  @IsOptional()
  @IsSafeName()
  environmentName?: string;
}

/** Maia's published pipeline shape (REST). */
export class PublishedPipelineDto {
  @ApiProperty({ example: 'FOLDER/load_orders.orch.yaml' })
  name!: string;
  @ApiPropertyOptional({ format: 'date-time' })
  publishedTime?: string;
}

export class PublishedPipelinePageDto {
  @ApiProperty()
  page!: number;
  @ApiProperty()
  size!: number;
  @ApiProperty()
  total!: number;
  @ApiProperty({ type: [PublishedPipelineDto] })
  results!: PublishedPipelineDto[];
}
