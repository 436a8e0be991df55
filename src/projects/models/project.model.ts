import { Field, ID, ObjectType } from '@nestjs/graphql';
import { Node } from '../../graphql/node/node.interface';
import { Paginated } from '../../graphql/paginated';
import { WholeAnswerCacheable } from '../../hot-read/whole-answer-cacheable.decorator';

@ObjectType({
  description: 'A Maia project: the container of environments and published pipelines.',
  implements: () => [Node],
})
export class Project implements Node {
  @Field(() => ID, {
    description:
      "The project's id (a UUID), Maia's own: every argument that takes a project id takes it, and so does `node`.",
  })
  @WholeAnswerCacheable()
  id!: string;

  @Field(() => String, { description: 'Display name. Not unique: two projects may share one.' })
  @WholeAnswerCacheable()
  name!: string;

  @Field(() => String, { nullable: true })
  @WholeAnswerCacheable()
  description!: string | null;
}

@ObjectType({ description: 'A page of projects.' })
@WholeAnswerCacheable()
export class ProjectPage extends Paginated(Project) {}
