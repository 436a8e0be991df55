import { Field, ID, ObjectType } from '@nestjs/graphql';
import { Node } from '../../graphql/node/node.interface';
import { Paginated } from '../../graphql/paginated';
import { DateTimeScalar } from '../../graphql/scalars/date-time.scalar';
import { WholeAnswerCacheable } from '../../hot-read/whole-answer-cacheable.decorator';

@ObjectType({
  description: 'A pipeline published to an environment: what can be executed.',
  implements: () => [Node],
})
// Declared field by field: its run history (`executions`, `lastExecution`) is read from Maia now.
export class PublishedPipeline implements Node {
  @Field(() => ID, {
    description:
      'Global id (opaque) of this pipeline as published to its environment: project, environment and name.',
  })
  @WholeAnswerCacheable()
  id!: string;

  @Field(() => String, {
    description: 'The pipeline name, often a path such as FOLDER/load_orders.orch.yaml.',
  })
  @WholeAnswerCacheable()
  name!: string;

  @Field(() => DateTimeScalar, { nullable: true })
  @WholeAnswerCacheable()
  publishedTime!: string | null;

  @Field(() => ID)
  @WholeAnswerCacheable()
  projectId!: string;

  @Field(() => String)
  @WholeAnswerCacheable()
  environmentName!: string;
}

@ObjectType({ description: 'A page of published pipelines.' })
@WholeAnswerCacheable()
export class PublishedPipelinePage extends Paginated(PublishedPipeline) {}
