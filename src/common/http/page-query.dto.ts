import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE } from './pagination';

/** An integer as Maia reads one in a query (up to 9 digits, optionally negative). */
const QUERY_INTEGER = /^-?\d{1,9}$/;

/**
 * A query integer clamped into [min, max], as Maia clamps `size` and `limit` instead of refusing them.
 * Anything that is not an integer is left as NaN for `@IsInt` to refuse.
 */
export function ClampedQueryInteger(min: number, max: number): PropertyDecorator {
  return Transform(({ value }: { value: unknown }) => {
    if (value === undefined) return undefined;
    const text = typeof value === 'number' ? String(value) : value;
    if (typeof text !== 'string' || !QUERY_INTEGER.test(text)) return Number.NaN;
    return Math.min(max, Math.max(min, Number(text)));
  });
}

/** `page` (0-based) and `size` (1..100, clamped as Maia clamps) query parameters of Maia's page-based lists. */
export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 0, default: 0, description: '0-based page number' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(MAX_PAGE)
  page?: number;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: MAX_PAGE_SIZE,
    default: DEFAULT_PAGE_SIZE,
    description: `Values outside 1..${MAX_PAGE_SIZE} are clamped, as Maia does.`,
  })
  @IsOptional()
  @ClampedQueryInteger(1, MAX_PAGE_SIZE)
  @IsInt()
  size?: number;
}
