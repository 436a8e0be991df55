import { buildSchema, parse, type OperationDefinitionNode } from 'graphql';
import { jitMayExecute, laneMayServe } from './lane-operations';

const schema = buildSchema(`
  type Query { a: Int }
  type Mutation { launch(input: LaunchInput): Int! cancel(input: CancelInput!): Int! }
  input LaunchInput { name: String! tag: String = "none" nested: NestedInput }
  input NestedInput { deep: DeepInput }
  input DeepInput { force: Boolean! = false }
  input CancelInput { id: ID! force: Boolean! = false }
  type Subscription { s: Int }
`);

function operationOf(text: string): OperationDefinitionNode {
  return parse(text).definitions[0] as OperationDefinitionNode;
}

describe('laneMayServe', () => {
  it('serves queries and mutations, never a subscription or no operation', () => {
    expect(laneMayServe(operationOf('{ a }'))).toBe(true);
    expect(laneMayServe(operationOf('mutation { launch(input: { name: "x" }) }'))).toBe(true);
    expect(laneMayServe(operationOf('subscription { s }'))).toBe(false);
    expect(laneMayServe(undefined)).toBe(false);
  });
});

describe('jitMayExecute', () => {
  it('lets graphql-jit execute queries and a mutation of one root field', () => {
    expect(jitMayExecute(schema, operationOf('{ a b: a }'))).toBe(true);
    expect(jitMayExecute(schema, operationOf('mutation { launch(input: { name: "x" }) }'))).toBe(true);
    expect(
      jitMayExecute(schema, operationOf('mutation($n: String!) { x: launch(input: { name: $n }) }')),
    ).toBe(true);
  });

  it('leaves a mutation of several root fields, or of a fragment, to graphql-js', () => {
    expect(jitMayExecute(schema, operationOf('mutation { a: launch b: launch }'))).toBe(false);
    expect(jitMayExecute(schema, operationOf('mutation { launch __typename }'))).toBe(false);
    expect(jitMayExecute(schema, operationOf('mutation { ...F }'))).toBe(false);
    expect(jitMayExecute(schema, operationOf('mutation { ... on Mutation { launch } }'))).toBe(false);
  });

  it('leaves variables of input types with a required field that has a default to graphql-js', () => {
    expect(jitMayExecute(schema, operationOf('mutation($i: CancelInput!) { cancel(input: $i) }'))).toBe(
      false,
    );
    // LaunchInput > NestedInput > DeepInput.force
    expect(jitMayExecute(schema, operationOf('query($i: [LaunchInput!]) { a }'))).toBe(false);
    // Only graphql-jit's coercion of variables misses the default: a literal input object gets it.
    expect(jitMayExecute(schema, operationOf('mutation { cancel(input: { id: "1" }) }'))).toBe(true);
  });
});
