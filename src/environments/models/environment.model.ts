import { Field, ID, ObjectType } from '@nestjs/graphql';
import { Node } from '../../graphql/node/node.interface';
import { Paginated } from '../../graphql/paginated';
import { WholeAnswerCacheable } from '../../hot-read/whole-answer-cacheable.decorator';

@ObjectType({ description: 'A Maia runner (agent) that executes pipelines.' })
@WholeAnswerCacheable()
export class Agent {
  @Field(() => ID, { description: 'The runner id, as `executePipeline` takes it (`agentId`).' })
  id!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;

  // `restricted` and `status` are resolved from the account's runner list (RunnerFieldsResolver), so an
  // agent reads the same wherever it appears (a default runner or a runners page) and normalizes cleanly.
}

@ObjectType({ description: 'A page of runners (agents).' })
@WholeAnswerCacheable()
export class AgentPage extends Paginated(Agent) {}

@ObjectType({
  description: 'An environment of a project. Environments are keyed by name within their project.',
  implements: () => [Node],
})
export class Environment implements Node {
  @Field(() => ID, {
    description:
      'Global id (opaque) of this environment: project and name. Arguments that take an environment take its `name`.',
  })
  @WholeAnswerCacheable()
  id!: string;

  @Field(() => String, { description: 'The environment name (unique within its project).' })
  @WholeAnswerCacheable()
  name!: string;

  @Field(() => ID)
  @WholeAnswerCacheable()
  projectId!: string;

  @Field(() => Agent, {
    nullable: true,
    description: 'The default runner ("Maia runner") of this environment.',
  })
  @WholeAnswerCacheable()
  defaultAgent!: Agent | null;
}

@ObjectType({ description: 'A page of environments.' })
@WholeAnswerCacheable()
export class EnvironmentPage extends Paginated(Environment) {}
