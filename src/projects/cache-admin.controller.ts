import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsOptional, IsUUID } from 'class-validator';
import { RequireScope } from '../auth/require-scope.decorator';
import { CacheService } from '../cache/cache.service';
import { GATEWAY_EXTENSIONS_TAG, GATEWAY_REST_PREFIX } from '../common/http/maia-routes';
import { RestOperation } from '../common/http/rest-operation.decorator';
import { SANDBOX_EXAMPLE } from '../common/http/sandbox-examples';

export class InvalidateCacheBodyDto {
  @ApiPropertyOptional({
    format: 'uuid',
    example: SANDBOX_EXAMPLE.projectId,
    description: 'A project: its entries and the project lists. None: everything.',
  })
  @IsOptional()
  @IsUUID('all')
  projectId?: string;
}

export class InvalidateCacheResponseDto {
  @ApiProperty({ example: 'all' })
  invalidated!: string;
}

@ApiTags(GATEWAY_EXTENSIONS_TAG)
@Controller(`${GATEWAY_REST_PREFIX}/cache`)
export class CacheAdminController {
  constructor(private readonly cache: CacheService) {}

  @Post('invalidate')
  @HttpCode(200)
  @RequireScope('admin')
  @RestOperation('invalidateCache', {
    summary: 'Gateway extension: drop cached lookups on every replica',
    errors: [400, 413, 415],
    upstream: false,
    extension: true,
  })
  @ApiOkResponse({ type: InvalidateCacheResponseDto })
  invalidate(@Body() body: InvalidateCacheBodyDto | undefined): Promise<InvalidateCacheResponseDto> {
    return this.cache.invalidate({ projectId: body?.projectId });
  }
}
