import {
  getNamedType,
  isInputObjectType,
  isNonNullType,
  Kind,
  OperationTypeNode,
  typeFromAST,
  visit,
  type DocumentNode,
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
 * executor); otherwise the lane executes it with graphql-js. Decided once per accepted document. The cases
 * where graphql-jit 0.8.9 does otherwise (each shown against graphql-js in lane-operations.spec.ts) are
 * left to graphql-js:
 *
 * - **Several root fields of a mutation.** graphql-jit runs them one after the other, as graphql-js does,
 *   but once a non-null root field has failed (so `data` is null) it still runs the fields after it, where
 *   graphql-js stops: a second launch or cancel would happen that Apollo's path never makes. A mutation
 *   selecting exactly one root field (no fragment) has no field after it.
 * - **A variable with a default value** (`$force: Boolean! = false`). graphql-jit ignores variable
 *   defaults: left out, a non-null one is "of required type Boolean! was not provided".
 * - **A nullable variable inside a literal input object** (`input: { force: $force }`, in a list too).
 *   Left out, graphql-jit gives the field `null` where graphql-js leaves the field out (so its default
 *   applies, or it stays absent); given `null` at a non-null field with a default, graphql-jit passes the
 *   null where graphql-js answers an error. A non-null variable cannot be left out (the lane's coercion
 *   hands that to Apollo), and a nullable one directly at an argument is left out by both.
 * - **A variable of an input type with a non-null field that has a default** (`force: Boolean! = false` of
 *   `CancelPipelineExecutionInput`). graphql-jit's own variable coercion refuses such a field when it is
 *   left out ("of required type Boolean! was not provided"); graphql-js gives it its default.
 *
 * The document's fragments are looked at too (a variable may be used in one); a variable this operation
 * does not define counts as nullable.
 */
export function jitMayExecute(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): boolean {
  if (operation.operation === OperationTypeNode.MUTATION) {
    const { selections } = operation.selectionSet;
    if (selections.length !== 1 || selections[0].kind !== Kind.FIELD) return false;
  }
  const nonNull = new Set<string>();
  for (const definition of operation.variableDefinitions ?? []) {
    if (definition.defaultValue !== undefined) return false;
    if (definition.type.kind === Kind.NON_NULL_TYPE) nonNull.add(definition.variable.name.value);
    const type = typeFromAST(schema, definition.type);
    const named = type && getNamedType(type);
    if (named && isInputObjectType(named) && hasRequiredDefault(named, new Set())) return false;
  }
  return !hasNullableVariableInInputLiteral(document, nonNull);
}

/** Whether a variable not in `nonNull` is used inside a literal input object anywhere in the document. */
function hasNullableVariableInInputLiteral(document: DocumentNode, nonNull: ReadonlySet<string>): boolean {
  let objectDepth = 0;
  let found = false;
  visit(document, {
    ObjectValue: {
      enter: () => {
        objectDepth++;
      },
      leave: () => {
        objectDepth--;
      },
    },
    Variable: (node) => {
      if (objectDepth > 0 && !nonNull.has(node.name.value)) found = true;
    },
    // Variable definitions name variables too; they are not usages.
    VariableDefinition: () => false,
  });
  return found;
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
