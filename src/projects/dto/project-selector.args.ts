import { ArgsType, Field, ID } from '@nestjs/graphql';
import { IsOptional, IsUUID } from 'class-validator';
import { IsSafeName } from '../../common/validation';

@ArgsType()
export class ProjectSelectorArgs {
  @Field(() => ID, { nullable: true, description: 'The project id. Give exactly one of id and name.' })
  @IsOptional()
  @IsUUID('all')
  id?: string;

  @Field(() => String, {
    nullable: true,
    description: 'The exact project name. Two projects with this name answer AMBIGUOUS_NAME.',
  })
  @IsOptional()
  @IsSafeName()
  name?: string;
}
