import fc from 'fast-check';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { ErrorCode } from '../../src/common/errors';
import {
  ALL_PROJECT_IDS,
  ANALYTICS_FINISHED_EXECUTION,
  KEYS,
  startSecuredWorld,
  type SecuredWorld,
} from '../auth/support/secured-gateway';

/**
 * Property-based fuzzing of the GraphQL endpoint with fast-check: schema-aware documents (real fields,
 * arguments of every kind, valid and hostile values, variables that do and do not match), and raw noise.
 * Whatever arrives: never a crash, never a 5xx, always JSON, and every error code from the shared enum
 * (never INTERNAL). Bounded: 300 cases.
 */

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));
const NUM_RUNS = 300;

const hostileStrings = fc.constantFrom(
  '',
  ' ',
  '../../../v1/projects',
  '..%2F..%2F',
  '%00',
  '\u0000',
  '\n\r\t',
  'x'.repeat(300),
  '{"$gt": ""}',
  "'; DROP TABLE projects; --",
  '<script>alert(1)</script>',
  '\ud800',
  'FOLDER/load_orders.orch.yaml',
  'Dev',
  'Analytics Warehouse',
  '${jndi:ldap://x}',
);
const idValues = fc.oneof(
  fc.constantFrom(...ALL_PROJECT_IDS, ANALYTICS_FINISHED_EXECUTION, '00000000-0000-4000-8000-000000000000'),
  fc.uuid(),
  fc.string({ maxLength: 40 }),
  hostileStrings,
);
const stringValues = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  hostileStrings,
);
const intValues = fc.oneof(
  fc.integer({ min: -5, max: 150 }),
  fc.integer(),
  fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 0),
);

/** A GraphQL literal (or a deliberately wrong one) for an input type. */
function valueFor(type: GraphQLInputType, depth: number): fc.Arbitrary<string> {
  if (isNonNullType(type)) return valueFor(type.ofType, depth);
  const wrong = fc.constantFrom('null', '42', '"text"', 'true', '[1, 2]', '{ nope: 1 }', 'SOME_ENUM');
  if (isListType(type)) {
    if (depth <= 0) return fc.constant('[]');
    return fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .array(valueFor(type.ofType, depth - 1), { maxLength: 3 })
          .map((items) => `[${items.join(', ')}]`),
      },
      { weight: 1, arbitrary: wrong },
    );
  }
  if (isEnumType(type)) {
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...type.getValues().map((v) => v.name)) },
      { weight: 1, arbitrary: wrong },
    );
  }
  if (isInputObjectType(type)) {
    if (depth <= 0) return fc.constant('{}');
    const fields = Object.values(type.getFields());
    const required = fields.filter((f) => isNonNullType(f.type) && f.defaultValue === undefined);
    const optional = fields.filter((f) => !required.includes(f));
    return fc
      .tuple(fc.subarray(optional), fc.integer({ min: 0, max: 9 }))
      .map(([chosen, dice]) => [...(dice === 0 ? [] : required), ...chosen])
      .chain((chosen) =>
        fc
          .tuple(...chosen.map((f) => valueFor(f.type, depth - 1).map((v) => `${f.name}: ${v}`)))
          .map((parts) => `{ ${parts.join(', ')} }`),
      );
  }
  if (isScalarType(type)) {
    const literal = (arb: fc.Arbitrary<string>) =>
      fc.oneof({ weight: 15, arbitrary: arb }, { weight: 1, arbitrary: wrong });
    switch (type.name) {
      case 'ID':
        return literal(idValues.map((v) => JSON.stringify(v)));
      case 'Int':
        return literal(intValues.map(String));
      case 'Float':
        return literal(fc.double({ noNaN: true, noDefaultInfinity: true }).map(String));
      case 'Boolean':
        return literal(fc.boolean().map(String));
      default: // String, DateTime, JSON...
        return literal(
          fc
            .oneof(
              stringValues,
              fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
            )
            .map((v) => JSON.stringify(v)),
        );
    }
  }
  return wrong;
}

function argumentsFor(args: readonly GraphQLArgument[]): fc.Arbitrary<string> {
  if (args.length === 0) return fc.constant('');
  // Required arguments are (nearly always) given, so most documents get past validation to the guards.
  const required = args.filter((a) => isNonNullType(a.type) && a.defaultValue === undefined);
  const optional = args.filter((a) => !required.includes(a));
  return fc
    .tuple(fc.subarray(optional), fc.integer({ min: 0, max: 9 }))
    .map(([chosen, dice]) => [...(dice === 0 ? [] : required), ...chosen])
    .chain((chosen) =>
      chosen.length === 0
        ? fc.constant('')
        : fc
            .tuple(...chosen.map((a) => valueFor(a.type, 3).map((v) => `${a.name}: ${v}`)))
            .map((parts) => `(${parts.join(', ')})`),
    );
}

/** A selection set on an object type: real fields, arguments, aliases and nesting up to `depth`. */
function selectionFor(type: GraphQLObjectType, depth: number): fc.Arbitrary<string> {
  const fields = Object.values(type.getFields()) as GraphQLField<unknown, unknown>[];
  const one = (field: GraphQLField<unknown, unknown>): fc.Arbitrary<string> => {
    const named = getNamedType(field.type);
    const sub = isObjectType(named)
      ? depth > 0
        ? selectionFor(named, depth - 1).map((s) => ` ${s}`)
        : fc.constant(' { __typename }')
      : fc.constant('');
    return fc
      .tuple(fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }), argumentsFor(field.args), sub)
      .map(
        ([alias, args, selection]) =>
          `${alias ? `${alias}_${field.name}: ` : ''}${field.name}${args}${selection}`,
      );
  };
  return fc
    .subarray(fields, { minLength: 1, maxLength: Math.min(4, fields.length) })
    .chain((chosen) => fc.tuple(...chosen.map(one)))
    .map((parts) => `{ __typename ${parts.join(' ')} }`);
}

interface Case {
  query: unknown;
  variables?: unknown;
  operationName?: unknown;
}

function casesFor(schema: GraphQLSchema): fc.Arbitrary<Case> {
  const query = selectionFor(schema.getQueryType() as GraphQLObjectType, 3).map((s) => ({
    query: `query ${s}`,
  }));
  const mutationType = schema.getMutationType();
  const mutation = mutationType
    ? selectionFor(mutationType, 2).map((s) => ({ query: `mutation ${s}` }))
    : fc.constant({ query: '{ __typename }' });
  // Each variable is used where its type fits; its value is anything JSON can carry (or a fitting one).
  const uses: [string, string, fc.Arbitrary<unknown>][] = [
    ['ID!', 'project(id: $v) { id name }', idValues],
    ['String', 'project(name: $v) { id }', stringValues],
    ['Int!', 'projects(size: $v) { total }', intValues],
    [
      'PipelineExecutionFilter',
      'pipelineExecutions(first: 3, filter: $v) { nodes { id projectId } }',
      fc.record({ projectId: idValues }),
    ],
    [
      '[PipelineExecutionStatus!]',
      'pipelineExecutions(first: 3, filter: { status: $v }) { nodes { id } }',
      fc.constantFrom(['RUNNING'], ['NOPE']),
    ],
    ['Boolean!', 'projects @include(if: $v) { total }', fc.boolean()],
  ];
  const withVariables = fc
    .tuple(fc.constantFrom(...uses), fc.jsonValue({ maxDepth: 3 }), fc.boolean())
    .chain(([[type, selection, fitting], anything, fit]) =>
      (fit ? fitting : fc.constant(anything)).map((value) => ({
        query: `query Q($v: ${type}) { ${selection} }`,
        variables: { v: value },
        operationName: 'Q',
      })),
    );
  const noise = fc.record({
    query: fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 100 }),
      fc
        .array(
          fc.constantFrom(
            '{',
            '}',
            '(',
            ')',
            '...',
            '@',
            '$',
            ':',
            'query',
            'fragment',
            'on',
            '__schema',
            '"',
            '#',
            '!',
            '=',
            '[',
            ']',
          ),
          {
            maxLength: 60,
          },
        )
        .map((tokens) => tokens.join(' ')),
      fc.jsonValue({ maxDepth: 2 }),
    ),
    variables: fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }),
    operationName: fc.option(fc.oneof(fc.string({ maxLength: 20 }), fc.integer()), { nil: undefined }),
  });
  return fc.oneof(
    { weight: 4, arbitrary: query },
    { weight: 2, arbitrary: mutation },
    { weight: 2, arbitrary: withVariables },
    { weight: 2, arbitrary: noise },
  );
}

describe('GraphQL fuzzing', () => {
  let world: SecuredWorld;
  let schema: GraphQLSchema;
  const admin = { 'x-api-key': KEYS.admin };

  beforeAll(async () => {
    world = await startSecuredWorld();
    const response = await fetch(`${world.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin },
      body: JSON.stringify({ query: getIntrospectionQuery() }),
    });
    schema = buildClientSchema(((await response.json()) as { data: IntrospectionQuery }).data);
  });
  afterAll(async () => {
    await world?.close();
  });

  it(`survives ${NUM_RUNS} generated documents and variables: no crash, no 5xx, only shared codes`, async () => {
    const seen = { ok: 0, clientErrors: 0, executionErrors: 0 };
    const startedAt = Date.now();
    await fc.assert(
      fc.asyncProperty(casesFor(schema), async (testCase) => {
        const response = await fetch(`${world.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...admin },
          body: JSON.stringify(testCase),
        });
        const text = await response.text();
        expect(response.status).toBeLessThan(500);
        const body = JSON.parse(text) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
        expect(body.data !== undefined || body.errors !== undefined).toBe(true);
        for (const error of body.errors ?? []) {
          const code = error.extensions?.code ?? 'MISSING';
          expect(KNOWN_CODES.has(code) ? code : `unknown code ${code}`).toBe(code);
          expect(code).not.toBe(ErrorCode.INTERNAL);
        }
        if (process.env.FUZZ_DEBUG && response.status >= 400) console.log(text.slice(0, 200));
        if (response.status >= 400) seen.clientErrors += 1;
        else if (body.errors?.length) seen.executionErrors += 1;
        else seen.ok += 1;
      }),
      { numRuns: NUM_RUNS, interruptAfterTimeLimit: 50_000, markInterruptAsFailure: true },
    );

    console.log(`fuzz: ${NUM_RUNS} cases in ${Date.now() - startedAt} ms`, seen);
    // The generator reaches every outcome: answered, refused as a request, refused while executing.
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.clientErrors).toBeGreaterThan(0);
    expect(seen.executionErrors).toBeGreaterThan(0);
    // And the gateway is still up.
    expect((await fetch(`${world.url}/health/live`)).status).toBe(200);
  }, 90_000);
});
