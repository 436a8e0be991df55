import { Field, ID, ObjectType } from '@nestjs/graphql';
import { Paginated } from '../../graphql/paginated';
import { DateTimeScalar } from '../../graphql/scalars/date-time.scalar';
import { WholeAnswerCacheable } from '../../hot-read/whole-answer-cacheable.decorator';

@ObjectType({ description: 'A pipeline published to an environment: what can be executed.' })
@WholeAnswerCacheable()
export class PublishedPipeline {
  @Field(() => String, {
    description: 'The pipeline name, often a path such as FOLDER/load_orders.orch.yaml.',
  })
  name!: string;

  @Field(() => DateTimeScalar, { nullable: true })
  publishedTime!: string | null;

  @Field(() => ID)
  projectId!: string;

  @Field(() => String)
  environmentName!: string;
}

@ObjectType({ description: 'A page of published pipelines.' })
@WholeAnswerCacheable()
export class PublishedPipelinePage extends Paginated(PublishedPipeline) {}
