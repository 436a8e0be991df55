import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ErrorCode } from '../errors';

/**
 * The one error body of the REST face, as the OpenAPI document declares it: Maia's own members (`error`,
 * `status`, what Maia's guide shows for a 409) beside RFC 9457's and the gateway's stable `code`, so a client
 * written for either reads it. Client-safe details (`field`, `retryAfterSeconds`, ...) may be added beside.
 */
export class ProblemDto {
  @ApiProperty({
    enum: ErrorCode,
    enumName: 'ErrorCode',
    description: 'The stable code, the same on GraphQL.',
  })
  code!: ErrorCode;

  @ApiProperty({ type: 'integer', example: 404, description: 'The HTTP status (Maia and RFC 9457).' })
  status!: number;

  @ApiProperty({ example: 'Execution not found', description: "The message, under Maia's member name." })
  error!: string;

  @ApiProperty({ example: 'urn:maia-gateway:problem:not-found' })
  type!: string;

  @ApiProperty({ example: 'Not found' })
  title!: string;

  @ApiProperty({ example: 'Execution not found', description: 'The message (RFC 9457).' })
  detail!: string;

  @ApiPropertyOptional({ description: 'The request input at fault, when there is one.' })
  field?: string;

  @ApiPropertyOptional({
    type: 'integer',
    description:
      'With RATE_LIMITED, SHUTTING_DOWN, IDEMPOTENCY_UNAVAILABLE and UNAVAILABLE (also Retry-After).',
  })
  retryAfterSeconds?: number;
}
