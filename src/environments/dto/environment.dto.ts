import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsUUID } from 'class-validator';
import { SANDBOX_EXAMPLE } from '../../common/http/sandbox-examples';

export class ProjectParamsDto {
  @ApiProperty({ format: 'uuid', example: SANDBOX_EXAMPLE.projectId })
  @IsUUID('all')
  projectId!: string;
}

/** Maia's environment shape (REST). */
export class EnvironmentDto {
  @ApiProperty()
  name!: string;
  @ApiPropertyOptional({ format: 'uuid' })
  defaultAgentId?: string;
  @ApiPropertyOptional()
  defaultAgentName?: string;
}

export class EnvironmentPageDto {
  @ApiProperty()
  page!: number;
  @ApiProperty()
  size!: number;
  @ApiProperty()
  total!: number;
  @ApiProperty({ type: [EnvironmentDto] })
  results!: EnvironmentDto[];
}
