import { Field, Int, ObjectType } from '@nestjs/graphql';

export interface PageType<T> {
  page: number;
  size: number;
  total: number;
  results: T[];
}

/** A page type with Maia's page shape (`page`, `size`, `total`, `results`) for an item type. */
export function Paginated<T>(itemType: abstract new (...args: never[]) => T) {
  @ObjectType({ isAbstract: true })
  abstract class PageClass implements PageType<T> {
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
