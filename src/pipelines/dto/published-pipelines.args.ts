import { ArgsType, Field } from '@nestjs/graphql';
import { IsSafeName } from '../../common/validation';
import { PageArgs } from '../../graphql/page.args';

@ArgsType()
export class PublishedPipelinesArgs extends PageArgs {
  @Field(() => String, { description: 'The environment whose published pipelines to list.' })
  @IsSafeName()
  environmentName!: string;
}
