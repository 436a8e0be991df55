import { Field, ID, ObjectType } from '@nestjs/graphql';
import { Paginated } from '../../graphql/paginated';

@ObjectType({ description: 'A Maia project: the container of environments and published pipelines.' })
export class Project {
  @Field(() => ID, { description: "The project's id (a UUID)." })
  id!: string;

  @Field(() => String, { description: 'Display name. Not unique: two projects may share one.' })
  name!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;
}

@ObjectType({ description: 'A page of projects.' })
export class ProjectPage extends Paginated(Project) {}
