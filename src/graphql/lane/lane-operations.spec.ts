import { buildSchema, execute, parse, validate, type OperationDefinitionNode } from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
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

/** `jitMayExecute` of a document's first operation. */
function jitMay(text: string, on = schema): boolean {
  const document = parse(text);
  return jitMayExecute(on, document, document.definitions[0] as OperationDefinitionNode);
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
    expect(jitMay('{ a b: a }')).toBe(true);
    expect(jitMay('mutation { launch(input: { name: "x" }) }')).toBe(true);
    expect(jitMay('mutation($n: String!) { x: launch(input: { name: $n }) }')).toBe(true);
  });

  it('leaves a mutation of several root fields, or of a fragment, to graphql-js', () => {
    expect(jitMay('mutation { a: launch b: launch }')).toBe(false);
    expect(jitMay('mutation { launch __typename }')).toBe(false);
    expect(jitMay('mutation { ...F }')).toBe(false);
    expect(jitMay('mutation { ... on Mutation { launch } }')).toBe(false);
  });

  it('leaves variables of input types with a required field that has a default to graphql-js', () => {
    expect(jitMay('mutation($i: CancelInput!) { cancel(input: $i) }')).toBe(false);
    // LaunchInput > NestedInput > DeepInput.force
    expect(jitMay('query($i: [LaunchInput!]) { a }')).toBe(false);
    // Only graphql-jit's coercion of variables misses the default: a constant literal input object gets
    // it (a variable inside the literal is another case, below).
    expect(jitMay('mutation { cancel(input: { id: "1" }) }')).toBe(true);
  });
});

/**
 * graphql-jit 0.8.9 against graphql-js `execute` on a plain schema whose resolvers echo their arguments:
 * every shape where the two answer differently must be left to graphql-js, and the shapes where they agree
 * (those the bench's documents have) keep graphql-jit.
 */
describe('jitMayExecute against what graphql-jit does', () => {
  const echo = buildSchema(`
    type Query { f(x: Int = 7): String g(i: In): String n(x: Int! = 5): String s(l: [In!]): String r(x: Int!): String }
    input In { a: Int = 3 b: Boolean! = false c: String }
  `);
  for (const field of Object.values(echo.getQueryType()?.getFields() ?? {}))
    field.resolve = (_source, args) => JSON.stringify(args);

  // [shape, document, variables, whether graphql-jit answers as graphql-js, whether the lane lets it run the
  // document (conservative: every document with a variable default, every variable of an input type with a
  // required default, whatever the values sent)]
  const shapes: [string, string, Record<string, unknown>, boolean, boolean][] = [
    ['non-null variable default, left out', 'query($n: Int! = 5) { r(x: $n) }', {}, false, false],
    ['non-null variable default, given', 'query($n: Int! = 5) { r(x: $n) }', { n: 2 }, true, false],
    [
      'non-null variable default at @skip, left out',
      'query($n: Boolean! = false) { f @skip(if: $n) }',
      {},
      false,
      false,
    ],
    [
      'non-null variable default in a literal, left out',
      'query($n: Boolean! = true) { g(i: { b: $n }) }',
      {},
      false,
      false,
    ],
    ['nullable variable default, left out', 'query($n: Int = 5) { f(x: $n) }', {}, true, false],
    ['nullable variable at an argument default, left out', 'query($n: Int) { f(x: $n) }', {}, true, true],
    [
      'nullable variable at an argument default, null',
      'query($n: Int) { f(x: $n) }',
      { n: null },
      true,
      true,
    ],
    [
      'nullable variable at a non-null argument default, left out',
      'query($n: Int) { n(x: $n) }',
      {},
      true,
      true,
    ],
    [
      'nullable variable at a nullable field default, left out',
      'query($n: Int) { g(i: { a: $n }) }',
      {},
      false,
      false,
    ],
    [
      'nullable variable at a non-null field default, left out',
      'query($n: Boolean) { g(i: { b: $n }) }',
      {},
      false,
      false,
    ],
    [
      'nullable variable at a non-null field default, null',
      'query($n: Boolean) { g(i: { b: $n }) }',
      { n: null },
      false,
      false,
    ],
    [
      'nullable variable at a field without default, left out',
      'query($n: String) { g(i: { c: $n }) }',
      {},
      false,
      false,
    ],
    [
      'nullable variable in a literal in a list, left out',
      'query($n: Boolean) { s(l: [{ b: $n }]) }',
      {},
      false,
      false,
    ],
    ['non-null variable in a literal', 'query($n: Boolean!) { g(i: { b: $n }) }', { n: true }, true, true],
    [
      'input variable, nullable field default left out',
      'query($i: In) { g(i: $i) }',
      { i: { b: true } },
      true,
      false,
    ],
    [
      'input variable, required default left out',
      'query($i: In) { g(i: $i) }',
      { i: { a: 1 } },
      false,
      false,
    ],
    ['constant literal, defaults left out', '{ g(i: { c: "x" }) }', {}, true, true],
  ];

  it.each(shapes)('%s', async (_shape, text, variables, same, jit) => {
    const document = parse(text);
    expect(validate(echo, document)).toEqual([]);
    const byJs = await execute({ schema: echo, document, variableValues: variables });
    const compiled = compileQuery(echo, document);
    if (!isCompiledQuery(compiled)) throw new Error('graphql-jit did not compile the document');
    const byJit = await compiled.query(undefined, {}, variables);
    // Field order aside (the lane writes `{errors, data, extensions}` itself).
    const answer = (result: typeof byJs) => JSON.stringify({ errors: result.errors, data: result.data });
    expect(answer(byJit) === answer(byJs)).toBe(same);
    // Where they differ, graphql-js executes.
    expect(jitMay(text, echo)).toBe(jit);
    if (!same) expect(jit).toBe(false);
  });

  it('looks at variables used in fragments', () => {
    expect(jitMay('query($n: Int) { ...F } fragment F on Query { g(i: { a: $n }) }', echo)).toBe(false);
    expect(jitMay('query($n: Int!) { ...F } fragment F on Query { g(i: { a: $n }) }', echo)).toBe(true);
  });

  it("keeps graphql-jit for the bench's documents (non-null variables at arguments with defaults)", () => {
    expect(jitMay('query($size: Int!) { n(x: $size) }', echo)).toBe(true);
  });
});
