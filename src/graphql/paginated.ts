import { Field, Int, ObjectType } from '@nestjs/graphql';
import type { Page } from '../common/http/pagination';

/** The GraphQL object type of a `Page` (`page`, `size`, `total`, `results`) for an item type. */
export function Paginated<T>(itemType: abstract new (...args: never[]) => T) {
  @ObjectType({ isAbstract: true })
  abstract class PageClass implements Page<T> {
    @Field(() => Int, { description: '0-based page number.' })
    page!: number;

    @Field(() => Int, { description: 'Requested page size.' })
    size!: number;

    @Field(() => Int, { description: 'Number of items over all pages.' })
    total!: number;

    @Field(() => [itemType], { description: 'The items of this page.' })
    results!: T[];
  }
  return PageClass;
}
