import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { SANDBOX_EXAMPLE } from '../../common/http/sandbox-examples';

/** A runner (Maia's agent), REST. */
export class AgentDto {
  @ApiProperty({
    format: 'uuid',
    example: SANDBOX_EXAMPLE.agentId,
    description: 'What execute takes as agentId.',
  })
  agentId!: string;
  @ApiPropertyOptional({ example: 'Dev Agent' })
  name?: string;
  @ApiPropertyOptional({ description: 'True when the runner serves only the pairs on its allow list.' })
  restricted?: boolean;
  @ApiPropertyOptional()
  status?: string;
}

export class AgentPageDto {
  @ApiProperty()
  page!: number;
  @ApiProperty()
  size!: number;
  @ApiProperty()
  total!: number;
  @ApiProperty({ type: [AgentDto] })
  results!: AgentDto[];
}
