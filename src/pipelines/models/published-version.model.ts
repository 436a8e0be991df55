import { Field, ObjectType } from '@nestjs/graphql';
import { Paginated } from '../../graphql/paginated';
import { DateTimeScalar } from '../../graphql/scalars/date-time.scalar';
import { WholeAnswerCacheable } from '../../hot-read/whole-answer-cacheable.decorator';

@ObjectType({
  description:
    "A version published to an environment (Maia calls it an artifact): an immutable build of the project's pipelines. Its `versionName` is what `executePipeline` takes as `versionName`; without one, Maia runs the newest version published to the environment.",
})
@WholeAnswerCacheable()
export class PublishedVersion {
  @Field(() => String, { description: 'The version name, as `executePipeline` takes it.' })
  versionName!: string;

  @Field(() => String, { description: 'The environment this version is published to.' })
  environmentName!: string;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When it was published, when Maia says.' })
  createdAt!: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description: 'False for a version Maia has disabled (it cannot run); null when Maia does not say.',
  })
  enabled!: boolean | null;
}

@ObjectType({ description: 'A page of published versions.' })
@WholeAnswerCacheable()
export class PublishedVersionPage extends Paginated(PublishedVersion) {}
