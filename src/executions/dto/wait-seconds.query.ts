import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export const MAX_WAIT_SECONDS = 60;

/** `?waitSeconds=N` on GET …/pipeline-executions/{id}: a long-poll for the end of the run. */
export class WaitSecondsQueryDto {
  @ApiPropertyOptional({
    minimum: 0,
    maximum: MAX_WAIT_SECONDS,
    description:
      'Gateway extension (Maia has no such parameter): answer as soon as the run is finished, or after this many seconds with its current state (0: at once).',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_WAIT_SECONDS)
  waitSeconds?: number;
}
