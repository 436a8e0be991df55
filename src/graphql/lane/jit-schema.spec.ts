import { ObjectTypeDefinitionFactory } from '@nestjs/graphql/dist/schema-builder/factories/object-type-definition.factory';
import { buildSchema, graphql, GraphQLObjectType, parse, type GraphQLFieldResolver } from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { plainPropertyOf } from '../nest-property-reader';
import { schemaForJit } from './jit-schema';

/** The reader Nest gives a plain `@Field` (property `name`, maybe a declared default). */
function nestReader(name: string, defaultValue?: unknown): GraphQLFieldResolver<unknown, unknown> {
  const make = (ObjectTypeDefinitionFactory.prototype as unknown as Record<string, unknown>)
    .createFieldResolver as (field: unknown, options: unknown) => GraphQLFieldResolver<unknown, unknown>;
  return make.call(
    Object.create(ObjectTypeDefinitionFactory.prototype),
    { name, options: { defaultValue } },
    {
      fieldMiddleware: [],
    },
  );
}

const SDL = `
  type Query { project: Project }
  type Project { id: ID, name: String, label: String, status: String, count: Int, nested: Project }
`;

function schemaWithReaders() {
  const schema = buildSchema(SDL);
  const fields = (schema.getType('Project') as GraphQLObjectType).getFields();
  fields.id.resolve = nestReader('id');
  fields.name.resolve = nestReader('name');
  fields.nested.resolve = nestReader('nested');
  // `@Field({ name: 'label' }) title`: the reader reads another property than the field's name.
  fields.label.resolve = nestReader('title');
  fields.status.resolve = nestReader('status', 'UNKNOWN');
  fields.count.resolve = (source: { items: unknown[] }) => source.items.length;
  (schema.getType('Query') as GraphQLObjectType).getFields().project.resolve = () => ({
    id: 'p1',
    name: 'Analytics',
    title: 'Shown',
    items: [1, 2],
    nested: { id: 'p2', name: 'Child', items: [] },
  });
  return schema;
}

describe('plainPropertyOf', () => {
  it("names the property of Nest's reader without default, and nothing else", () => {
    expect(plainPropertyOf(nestReader('name'))).toBe('name');
    expect(plainPropertyOf(nestReader('status', 'UNKNOWN'))).toBeUndefined();
    expect(plainPropertyOf((source: { name: string }) => source.name)).toBeUndefined();
    expect(plainPropertyOf(undefined)).toBeUndefined();
  });
});

describe('schemaForJit', () => {
  it("drops Nest's plain readers only, and leaves Apollo's schema as it was", () => {
    const schema = schemaWithReaders();
    const before = { ...(schema.getType('Project') as GraphQLObjectType).getFields() };
    const jit = schemaForJit(schema);
    const fields = (jit.getType('Project') as GraphQLObjectType).getFields();
    expect(fields.id.resolve).toBeUndefined();
    expect(fields.name.resolve).toBeUndefined();
    expect(fields.nested.resolve).toBeUndefined();
    expect(fields.label.resolve).toBe(before.label.resolve);
    expect(fields.status.resolve).toBe(before.status.resolve);
    expect(fields.count.resolve).toBe(before.count.resolve);
    const original = (schema.getType('Project') as GraphQLObjectType).getFields();
    for (const name of Object.keys(before)) expect(original[name].resolve).toBe(before[name].resolve);
  });

  it('answers, compiled by graphql-jit, what graphql-js answers on the original schema', async () => {
    const schema = schemaWithReaders();
    const query = '{ project { id name label status count nested { id name label status count } } }';
    const expected = await graphql({ schema, source: query });
    expect(expected.errors).toBeUndefined();
    const compiled = compileQuery(schemaForJit(schema), parse(query));
    if (!isCompiledQuery(compiled)) throw new Error('not compiled');
    expect(JSON.stringify(await compiled.query(undefined, {}, {}))).toBe(JSON.stringify(expected));
  });
});
