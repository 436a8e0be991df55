import { Args, ArgsType, Field, ID, Mutation, ObjectType, Resolver } from '@nestjs/graphql';
import { IsOptional, IsUUID } from 'class-validator';
import { RequireScope } from '../auth/require-scope.decorator';
import { CacheService } from '../cache/cache.service';

@ObjectType()
export class InvalidateCachePayload {
  @Field(() => String, { description: 'The project id whose entries were dropped, or "all".' })
  invalidated!: string;
}

@ArgsType()
export class InvalidateCacheArgs {
  @Field(() => ID, {
    nullable: true,
    description: 'A project: its entries and the project lists. None: everything.',
  })
  @IsOptional()
  @IsUUID('all')
  projectId?: string;
}

@Resolver()
export class CacheAdminResolver {
  constructor(private readonly cache: CacheService) {}

  @Mutation(() => InvalidateCachePayload, {
    description: "Drops cached lookups on every replica (after a change in Maia the gateway can't see).",
  })
  @RequireScope('admin')
  invalidateCache(@Args() { projectId }: InvalidateCacheArgs): Promise<InvalidateCachePayload> {
    return this.cache.invalidate({ projectId });
  }
}
