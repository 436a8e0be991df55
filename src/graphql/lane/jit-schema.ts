import { MapperKind, mapSchema } from '@graphql-tools/utils';
import type { GraphQLSchema } from 'graphql';
import { plainPropertyOf } from '../nest-property-reader';

/**
 * The schema graphql-jit compiles the lane's queries against: Apollo's schema with the same types, resolvers,
 * scalars and type resolution, except that a plain field Nest gave its own property reader (every `@Field`
 * of a model: `id`, `name`, `total`, `results`...) has none. graphql-jit reads a field without a resolver
 * inline, in the compiled code; a field with one is a deferred resolver call per object (its own path, a
 * promise check, an error destination), which made most of a nested read's execution: a page of projects
 * with their environments and pipelines reads a few hundred such fields.
 *
 * Only readers that read exactly their field's own property, with no declared default, are left out: for
 * them graphql-jit's inline read (the source's member, as it is) is what Nest's reader answers. Renamed
 * fields (`@Field({ name })`), defaults, field middleware and every resolver of ours keep their function.
 * Apollo's own schema is not changed: its path and graphql-js executions keep Nest's readers.
 */
export function schemaForJit(schema: GraphQLSchema): GraphQLSchema {
  return mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: (field, fieldName) =>
      plainPropertyOf(field.resolve) === fieldName ? { ...field, resolve: undefined } : field,
  });
}
