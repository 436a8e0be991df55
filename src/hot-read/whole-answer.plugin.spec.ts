import { buildSchema, getOperationAST, parse, type GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { WHOLE_ANSWER_CACHEABLE } from './whole-answer-cacheable.decorator';
import { cacheableFieldsOf, isWholeAnswerCacheable } from './whole-answer.plugin';

/** Declarations as Nest puts them on the schema: extensions of a type or of one field. */
function schemaWithDeclarations(): GraphQLSchema {
  const schema = buildSchema(`
    type Query { projects: ProjectPage! project(id: ID!): Project! execution(id: ID!): Execution! }
    type Mutation { invalidate: Boolean! }
    type ProjectPage { total: Int! results: [Project!]! }
    type Project { id: ID! name: String! executions: [Execution!]! }
    type Execution { id: ID! status: String! }
  `);
  const declared = { extensions: { [WHOLE_ANSWER_CACHEABLE]: true } };
  const type = (name: string) => schema.getType(name) as GraphQLObjectType;
  Object.assign(type('Query').getFields().projects, declared);
  Object.assign(type('Query').getFields().project, declared);
  Object.assign(type('ProjectPage'), declared);
  Object.assign(type('Project').getFields().id, declared);
  Object.assign(type('Project').getFields().name, declared);
  return schema;
}

describe('whole-answer declarations', () => {
  const schema = schemaWithDeclarations();
  const cacheable = cacheableFieldsOf(schema);
  const judge = (source: string, operationName?: string): boolean => {
    const document = parse(source);
    const operation = getOperationAST(document, operationName);
    if (!operation) throw new Error('no operation');
    return isWholeAnswerCacheable(cacheable, schema, document, operation);
  };

  it('accepts queries made only of declared fields and fields of declared types', () => {
    expect(judge('{ projects { total results { id name __typename } } }')).toBe(true);
    expect(judge('query P { project(id: "x") { ...F } } fragment F on Project { id }')).toBe(true);
  });

  it('refuses anything touching an undeclared field, in fragments too', () => {
    expect(judge('{ projects { results { id executions { id } } } }')).toBe(false);
    expect(judge('{ execution(id: "x") { id } }')).toBe(false);
    expect(judge('{ project(id: "x") { ...F } } fragment F on Project { executions { status } }')).toBe(
      false,
    );
    expect(judge('{ __schema { queryType { name } } }')).toBe(false);
  });

  it('never caches mutations, whatever their fields', () => {
    expect(judge('mutation { invalidate }')).toBe(false);
  });
});
