import {
  getNamedType,
  isInputObjectType,
  isNonNullType,
  Kind,
  OperationTypeNode,
  typeFromAST,
  type GraphQLInputObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';

/**
 * Which operations Apollo accepted the GraphQL query lane may serve (docs/adr/0044): queries and mutations.
 * Subscriptions never run over HTTP (Apollo refuses them before execution), so none is ever registered.
 * A mutation is served with exactly the work of Apollo's path: the same admission, the same resolvers with
 * Nest's guard, pipe and service (idempotency key and execute ledger included), the same error formatting,
 * headers, completion line and metrics.
 */
export function laneMayServe(
  operation: OperationDefinitionNode | undefined,
): operation is OperationDefinitionNode {
  return (
    operation?.operation === OperationTypeNode.QUERY || operation?.operation === OperationTypeNode.MUTATION
  );
}

/**
 * Whether graphql-jit may execute the operation with the answers and effects of graphql-js (Apollo's
 * executor); otherwise the lane executes it with graphql-js. Decided once per accepted document. Two cases
 * where graphql-jit 0.8 does otherwise are left to graphql-js:
 *
 * - **Several root fields of a mutation.** graphql-jit runs them one after the other, as graphql-js does,
 *   but once a non-null root field has failed (so `data` is null) it still runs the fields after it, where
 *   graphql-js stops: a second launch or cancel would happen that Apollo's path never makes. A mutation
 *   selecting exactly one root field (no fragment) has no field after it.
 * - **A variable of an input type with a non-null field that has a default** (`force: Boolean! = false` of
 *   `CancelPipelineExecutionInput`). graphql-jit's own variable coercion refuses such a field when it is
 *   left out ("of required type Boolean! was not provided"); graphql-js gives it its default.
 */
export function jitMayExecute(schema: GraphQLSchema, operation: OperationDefinitionNode): boolean {
  if (operation.operation === OperationTypeNode.MUTATION) {
    const { selections } = operation.selectionSet;
    if (selections.length !== 1 || selections[0].kind !== Kind.FIELD) return false;
  }
  for (const definition of operation.variableDefinitions ?? []) {
    const type = typeFromAST(schema, definition.type);
    const named = type && getNamedType(type);
    if (named && isInputObjectType(named) && hasRequiredDefault(named, new Set())) return false;
  }
  return true;
}

/** Whether an input type, or one it contains, has a non-null field with a default value. */
function hasRequiredDefault(type: GraphQLInputObjectType, seen: Set<GraphQLInputObjectType>): boolean {
  if (seen.has(type)) return false;
  seen.add(type);
  for (const field of Object.values(type.getFields())) {
    if (isNonNullType(field.type) && field.defaultValue !== undefined) return true;
    const named = getNamedType(field.type);
    if (isInputObjectType(named) && hasRequiredDefault(named, seen)) return true;
  }
  return false;
}
