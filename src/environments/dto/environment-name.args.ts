import { ArgsType, Field } from '@nestjs/graphql';
import { IsSafeName } from '../../common/validation';

@ArgsType()
export class EnvironmentNameArgs {
  @Field(() => String, { description: 'The environment name.' })
  @IsSafeName()
  name!: string;
}
