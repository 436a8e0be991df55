import { Field, ID, ObjectType } from '@nestjs/graphql';
import { Paginated } from '../../graphql/paginated';

@ObjectType({ description: 'A Maia runner (agent) that executes pipelines.' })
export class Agent {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true })
  name!: string | null;
}

@ObjectType({
  description: 'An environment of a project. Environments are keyed by name within their project.',
})
export class Environment {
  @Field(() => String, { description: 'The environment name (unique within its project).' })
  name!: string;

  @Field(() => ID)
  projectId!: string;

  @Field(() => Agent, {
    nullable: true,
    description: 'The default runner ("Maia runner") of this environment.',
  })
  defaultAgent!: Agent | null;
}

@ObjectType({ description: 'A page of environments.' })
export class EnvironmentPage extends Paginated(Environment) {}
