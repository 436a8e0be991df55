import { GraphQLEnumType, GraphQLSchema } from 'graphql';
import { ErrorCode, errorCodeMeanings } from '../common/errors';

/**
 * What a client finds in an error besides `message`, `path` and `locations`. Printed in the schema (the
 * enum's description) and kept in step with the README's table.
 */
export const ERROR_EXTENSIONS_DESCRIPTION = [
  'The stable code of every error the gateway answers with: GraphQL `errors[].extensions.code`, the REST problem `code` and the SSE `error` event `code` carry the same values. No field returns this enum: it is in the schema so that generated clients match codes as an enum instead of strings.',
  '',
  'Members of `errors[].extensions`:',
  '- `code` (always): one of these values.',
  '- `field` or `fields`: the argument or input member at fault (BAD_USER_INPUT).',
  '- `retryAfterSeconds`: when to try again (RATE_LIMITED, IDEMPOTENCY_UNAVAILABLE, UNAVAILABLE; HTTP also sends Retry-After). `limit`: the subscription limit that was reached.',
  '- `projectId`, `executionId`, `name`: what was not found (NOT_FOUND). `scope`: the scope that is missing (FORBIDDEN).',
  '- `matches`, `projectIds`: the projects sharing a name (AMBIGUOUS_NAME).',
  '- `executionTag`, `environmentName`, `existingExecutionId`: the run in the way (CONFLICT).',
  '- `status`, `executionStatus`: how the run ended (ALREADY_FINISHED).',
  '- `upstreamStatus`: the HTTP status Maia answered with (UPSTREAM_* and codes mapped from Maia). `candidates`: runs that may be the one started (UPSTREAM_OUTCOME_UNKNOWN).',
  '',
  'Member of the response `extensions` (beside `data`): `stale`, the cached resources served stale because Maia failed, sorted. The request id is not in the body: it is the `x-request-id` response header (the same id is in the gateway logs and sent to Maia).',
].join('\n');

/** The `ErrorCode` enum of the schema, built from the one list (`ErrorCode`) and its meanings. */
export const ErrorCodeEnum = new GraphQLEnumType({
  name: 'ErrorCode',
  description: ERROR_EXTENSIONS_DESCRIPTION,
  values: Object.fromEntries(
    Object.values(ErrorCode).map((code) => [code, { value: code, description: errorCodeMeanings[code] }]),
  ),
});

/**
 * Adds the types no field returns (the `ErrorCode` enum) to a built schema. Used as the GraphQL module's
 * `transformSchema` (the served schema) and by `print-schema` (schema.gql), so both stay one. Why not
 * `buildSchemaOptions.orphanedTypes`: @nestjs/graphql reads it only where the module builds the schema,
 * and a field returning the codes would be a query nobody needs.
 */
export function withUnreferencedTypes(schema: GraphQLSchema): GraphQLSchema {
  const config = schema.toConfig();
  if (config.types.some((type) => type.name === ErrorCodeEnum.name)) return schema;
  return new GraphQLSchema({ ...config, types: [...config.types, ErrorCodeEnum] });
}
