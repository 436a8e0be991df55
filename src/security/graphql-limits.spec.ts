import { buildSchema, getIntrospectionQuery, parse } from 'graphql';
import { ErrorCode } from '../common/errors';
import { loadConfig } from '../config';
import {
  checkDocument,
  graphqlWsLimits,
  PassedDocuments,
  precheckDocument,
  type GraphqlLimits,
} from './graphql-limits';

const schema = buildSchema(`
  type Query { projects(page: Int, size: Int): ProjectPage! project(id: ID!): Project! }
  type ProjectPage { results: [Project!]! total: Int! }
  type Project { id: ID! name: String! environments: EnvironmentPage! }
  type EnvironmentPage { results: [Environment!]! }
  type Environment { name: String! project: Project! }
`);

function limits(env: Record<string, string> = {}): GraphqlLimits {
  return loadConfig({
    GATEWAY_MODE: 'production',
    AUTH_DISABLED: 'false',
    AUTH_API_KEYS: '[{"name":"k","sha256":"' + 'a'.repeat(64) + '","scopes":["read"],"projects":["*"]}]',
    MAIA_CLIENT_ID: 'i',
    MAIA_CLIENT_SECRET: 's',
    ...env,
  }).auth.graphql;
}

function codes(source: string, l: GraphqlLimits = limits()): string[] {
  return checkDocument(schema, source, l).map((e) => String(e.extensions.code));
}

const nest = (depth: number): string => {
  let inner = 'name';
  for (let i = 0; i < depth; i += 1) inner = `project { environments { results { ${inner} } } }`;
  return `{ projects { results { environments { results { ${inner} } } } } }`;
};

describe('GraphQL limits', () => {
  it('lets ordinary queries and the standard introspection query through', () => {
    expect(
      codes(
        '{ projects(page: 0, size: 25) { total results { id name environments { results { name } } } } }',
      ),
    ).toEqual([]);
    expect(codes(getIntrospectionQuery())).toEqual([]);
  });

  it('refuses a depth bomb with QUERY_TOO_COMPLEX', () => {
    expect(codes(nest(1))).toEqual([]);
    const errors = checkDocument(schema, nest(10), limits());
    expect(errors.map((e) => e.extensions.code)).toContain(ErrorCode.QUERY_TOO_COMPLEX);
    expect(errors.some((e) => /^Query too complex: .*depth limit/i.test(e.message))).toBe(true);
  });

  it('refuses an alias bomb, __typename aliases included', () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: projects { total }`).join(' ');
    expect(codes(`{ ${aliases} }`)).toContain(ErrorCode.QUERY_TOO_COMPLEX);
    const typenames = Array.from({ length: 16 }, (_, i) => `t${i}: __typename`).join(' ');
    expect(codes(`{ ${typenames} }`)).toContain(ErrorCode.QUERY_TOO_COMPLEX);
  });

  it('refuses a directive bomb', () => {
    const directives = Array.from({ length: 11 }, () => '@include(if: true)').join(' ');
    expect(codes(`{ projects ${directives} { total } }`)).toContain(ErrorCode.QUERY_TOO_COMPLEX);
  });

  it('refuses a __typename repetition bomb at the token limit, before validation', () => {
    const bomb = `{ ${'__typename '.repeat(5_000)}}`;
    const errors = checkDocument(schema, bomb, limits());
    expect(errors).toHaveLength(1);
    expect(errors[0].extensions.code).toBe(ErrorCode.QUERY_TOO_COMPLEX);
    expect(errors[0].message).toMatch(/tokens/);
  });

  it('refuses an expensive query by cost', () => {
    const wide = Array.from(
      { length: 10 },
      (_, i) =>
        `f${i}: environments { results { name project { id name environments { results { name } } } } }`,
    ).join(' ');
    expect(
      codes(
        `{ projects { results { ${wide} } } }`,
        limits({ GRAPHQL_MAX_ALIASES: '100', GRAPHQL_MAX_COST: '100' }),
      ),
    ).toContain(ErrorCode.QUERY_TOO_COMPLEX);
  });

  it('answers syntax errors with GRAPHQL_PARSE_FAILED and keeps graphql-ws from parsing big documents', () => {
    expect(codes('{ projects { ')).toEqual([ErrorCode.GRAPHQL_PARSE_FAILED]);
    expect(codes('{ projects { nope } }')).toEqual([ErrorCode.GRAPHQL_VALIDATION_FAILED]);
    const ws = graphqlWsLimits(limits());
    expect(
      ws.onSubscribe(undefined, '1', { query: `subscription { ${'__typename '.repeat(5_000)}}` })?.[0]
        .extensions.code,
    ).toBe(ErrorCode.QUERY_TOO_COMPLEX);
    expect(ws.onSubscribe(undefined, '1', { query: '{ projects { total } }' })).toBeUndefined();
    expect(() => ws.parse(`{ ${'__typename '.repeat(5_000)}}`)).toThrow(/tokens/);
  });

  it('prechecks a raw document against the limits alone, leaving syntax errors to Apollo', () => {
    const l = limits();
    expect(precheckDocument(schema, '{ projects { total } }', l)).toEqual([]);
    expect(precheckDocument(schema, '{ projects { ', l)).toEqual([]);
    expect(precheckDocument(schema, '{ projects { nope } }', l)).toEqual([]); // graphql-js's job, later
    expect(precheckDocument(schema, nest(10), l)[0].extensions.code).toBe(ErrorCode.QUERY_TOO_COMPLEX);
    expect(precheckDocument(schema, `{ ${'__typename '.repeat(5_000)}}`, l)[0].extensions.code).toBe(
      ErrorCode.QUERY_TOO_COMPLEX,
    );
  });

  it('validates graphql-ws documents with the limits first, then the standard rules', () => {
    const ws = graphqlWsLimits(limits());
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: projects { total }`).join(' ');
    expect(ws.validate(schema, parse(`{ ${aliases} }`)).map((e) => e.extensions.code)).toEqual([
      ErrorCode.QUERY_TOO_COMPLEX,
    ]);
    expect(ws.validate(schema, parse('{ projects { nope } }'))).toHaveLength(1);
    expect(ws.validate(schema, parse('{ projects { total } }'))).toEqual([]);
  });

  it('re-checks nothing but passes: a rejected graphql-ws document is refused every time, another schema re-validates', () => {
    const ws = graphqlWsLimits(limits());
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: projects { total }`).join(' ');
    for (let i = 0; i < 3; i += 1) {
      expect(ws.validate(schema, parse(`{ ${aliases} }`)).map((e) => e.extensions.code)).toEqual([
        ErrorCode.QUERY_TOO_COMPLEX,
      ]);
      expect(ws.validate(schema, parse('{ projects { total } }'))).toEqual([]);
    }
    // The same source against a schema without that field: validated again, not taken from memory.
    const other = buildSchema('type Query { projects: Int }');
    expect(ws.validate(other, parse('{ projects { total } }'))).toHaveLength(1);
  });

  it('remembers a bounded number of passed sources, oldest forgotten first, long ones never', () => {
    const passed = new PassedDocuments(2, 50);
    passed.add('{ a }');
    passed.add('{ b }');
    passed.add('{ a }');
    passed.add('{ c }');
    expect([passed.has('{ a }'), passed.has('{ b }'), passed.has('{ c }'), passed.size]).toEqual([
      false,
      true,
      true,
      2,
    ]);
    passed.add(`{ ${'x '.repeat(30)}}`);
    expect(passed.has(`{ ${'x '.repeat(30)}}`)).toBe(false);
  });
});
