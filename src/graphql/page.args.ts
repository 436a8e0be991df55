import { ArgsType, Field, Int } from '@nestjs/graphql';
import { IsInt, Max, Min } from 'class-validator';
import { DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE } from '../common/http/pagination';

@ArgsType()
export class PageArgs {
  @Field(() => Int, { defaultValue: 0, description: '0-based page number.' })
  @IsInt()
  @Min(0)
  @Max(MAX_PAGE)
  page: number = 0;

  @Field(() => Int, { defaultValue: DEFAULT_PAGE_SIZE, description: `Page size, 1..${MAX_PAGE_SIZE}.` })
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  size: number = DEFAULT_PAGE_SIZE;
}
