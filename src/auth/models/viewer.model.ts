import { Field, ID, ObjectType, registerEnumType } from '@nestjs/graphql';
import { DateTimeScalar } from '../../graphql/scalars/date-time.scalar';

/** How the caller was admitted. */
export enum ViewerKind {
  API_KEY = 'API_KEY',
  JWT = 'JWT',
  SANDBOX = 'SANDBOX',
}

registerEnumType(ViewerKind, {
  name: 'ViewerKind',
  description: 'How the gateway admitted the caller.',
  valuesMap: {
    API_KEY: { description: 'An API key (`X-API-Key`).' },
    JWT: { description: 'A bearer JWT (`Authorization: Bearer ...`).' },
    SANDBOX: {
      description: 'Nobody: authentication is off (sandbox or development), every scope is granted.',
    },
  },
});

@ObjectType({
  description:
    'The caller as the gateway admitted it: what it may do (scopes) and which projects it may see. A frontend shows only the controls these allow.',
})
export class Viewer {
  @Field(() => String, { description: 'The name of the API key or the JWT subject (never the credential).' })
  name!: string;

  @Field(() => ViewerKind)
  kind!: ViewerKind;

  @Field(() => [String], {
    description:
      'What the caller may do, among read, execute, cancel and admin; `admin` is listed with every scope it implies.',
  })
  scopes!: string[];

  @Field(() => Boolean, { description: 'True when the caller may see every project of the gateway.' })
  allProjects!: boolean;

  @Field(() => [ID], {
    description: 'The ids of the projects the caller may see (lower case); empty when `allProjects` is true.',
  })
  projectIds!: string[];

  @Field(() => DateTimeScalar, {
    nullable: true,
    description: 'When the credential stops being valid (JWTs).',
  })
  expiresAt!: Date | null;
}
