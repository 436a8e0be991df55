import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import type { Type } from '@nestjs/common';
import { Args, Context, Parent } from '@nestjs/graphql';
import { buildSchema, graphql, type GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { AccessPolicy } from '../auth/access-policy';
import type { Principal } from '../auth/principal';
import { RequireScope, type Scope } from '../auth/require-scope.decorator';
import { RequestContext } from '../common/request-context';
import { DirectFieldResolvers, type DirectField, type InstanceSource } from './direct-field-resolvers';
import type { GraphqlContext } from './graphql-context';
import { PageArgs } from './page.args';

const SDL = `
  type Query { project: Project }
  type Project {
    name: String
    environments(page: Int = 0, size: Int = 25): Page
    byProject(projectId: ID): Page
    byFilter(filter: Filter): Page
  }
  input Filter { projectId: ID }
  type Page { page: Int, size: Int, total: Int }
`;

class EnvironmentsResolver {
  readonly calls: unknown[] = [];

  @RequireScope('read')
  environments(@Parent() project: { name: string }, @Args() args: PageArgs, @Context() ctx: GraphqlContext) {
    this.calls.push({ project, args, ctx });
    return { page: args.page, size: args.size, total: project.name.length };
  }

  environmentsUnscoped(@Parent() _p: unknown, @Args() args: PageArgs, @Context() _c: unknown) {
    return args;
  }

  @RequireScope('read')
  byProject(@Parent() _p: unknown, @Args() args: PageArgs, @Context() _c: unknown) {
    return args;
  }

  @RequireScope('read')
  noParent(@Args() args: PageArgs) {
    return args;
  }
}

function setUp(fields: Partial<DirectField>[] = [{}]) {
  const resolver = new EnvironmentsResolver();
  const instances: InstanceSource = {
    get<T>(type: Type<T>): T {
      return (type === AccessPolicy ? new AccessPolicy() : resolver) as T;
    },
  };
  const declared = fields.map((field) => ({
    type: 'Project',
    field: 'environments',
    resolver: EnvironmentsResolver,
    method: 'environments',
    args: PageArgs,
    ...field,
  }));
  const schema = new DirectFieldResolvers(declared, instances).apply(buildSchema(SDL));
  return { resolver, schema };
}

function principal(scopes: Scope[]): Principal {
  return { id: 'k', name: 'k', kind: 'api-key', scopes: new Set(scopes), projects: '*' };
}

/** Runs `query` as a request of a caller the edge admitted (or of nobody). */
async function run(schema: GraphQLSchema, query: string, caller?: Principal) {
  const raw = { headers: {} } as IncomingMessage;
  if (caller) RequestContext.of(raw).principal = caller;
  const contextValue = { transport: 'http', req: { raw } } as unknown as GraphqlContext;
  return graphql({ schema, source: query, rootValue: { project: { name: 'Analytics' } }, contextValue });
}

describe('DirectFieldResolvers', () => {
  it('calls the method with the parent, the validated arguments and the context', async () => {
    const { resolver, schema } = setUp();
    const result = await run(
      schema,
      '{ project { environments(page: 1, size: 5) { page size total } } }',
      principal(['read']),
    );
    expect(result).toEqual({ data: { project: { environments: { page: 1, size: 5, total: 9 } } } });
    expect(resolver.calls).toHaveLength(1);
    expect((resolver.calls[0] as { args: unknown }).args).toBeInstanceOf(PageArgs);
  });

  it('answers as the guard and the pipe did: no caller, a caller without the scope, bad arguments', async () => {
    const { resolver, schema } = setUp();
    const query = '{ project { environments { total } } }';
    const codeOf = async (source: string, caller?: Principal) =>
      (await run(schema, source, caller)).errors?.map((e) => [
        e.originalError?.name,
        (e.originalError as { code?: string })?.code,
      ]);
    expect(await codeOf(query)).toEqual([['GatewayError', 'UNAUTHENTICATED']]);
    expect(await codeOf(query, principal(['execute']))).toEqual([['GatewayError', 'FORBIDDEN']]);
    expect(await codeOf('{ project { environments(size: 0) { total } } }', principal(['read']))).toEqual([
      ['GatewayError', 'BAD_USER_INPUT'],
    ]);
    expect(await codeOf(query, principal(['admin']))).toBeUndefined();
    expect(resolver.calls).toHaveLength(1);
  });

  it('takes arguments validated before without waiting a turn, each call its own instance', async () => {
    const { resolver, schema } = setUp();
    const field = (schema.getType('Project') as GraphQLObjectType).getFields().environments;
    const raw = { headers: {} } as IncomingMessage;
    RequestContext.of(raw).principal = principal(['read']);
    const ctx = { transport: 'http', req: { raw } } as unknown as GraphqlContext;
    const call = () => field.resolve?.({ name: 'Analytics' }, { page: 2, size: 7 }, ctx, {} as never);
    // The first call validates (a promise); the same flat arguments again are known: the method's own answer.
    expect(await call()).toEqual({ page: 2, size: 7, total: 9 });
    expect(call()).toEqual({ page: 2, size: 7, total: 9 });
    expect(call()).toEqual({ page: 2, size: 7, total: 9 });
    const [first, second, third] = resolver.calls.map((c) => (c as { args: PageArgs }).args);
    expect(second).toBeInstanceOf(PageArgs);
    expect(second).toEqual(first);
    expect(second).not.toBe(first);
    expect(third).toBeInstanceOf(PageArgs);
    expect(third).toEqual(first);
    expect(third).not.toBe(second);
  });

  it('never answers other arguments with the last valid ones', async () => {
    const { resolver, schema } = setUp();
    const field = (schema.getType('Project') as GraphQLObjectType).getFields().environments;
    const raw = { headers: {} } as IncomingMessage;
    RequestContext.of(raw).principal = principal(['read']);
    const ctx = { transport: 'http', req: { raw } } as unknown as GraphqlContext;
    const call = (args: Record<string, unknown>) =>
      Promise.resolve(field.resolve?.({ name: 'Analytics' }, args, ctx, {} as never));
    await call({ page: 2, size: 7 });
    await call({ page: 2, size: 7 });
    expect(await call({ page: 3, size: 7 })).toEqual({ page: 3, size: 7, total: 9 });
    expect(await call({ page: 2, size: 7 })).toEqual({ page: 2, size: 7, total: 9 });
    expect(await call({ size: 7, page: 2 })).toEqual({ page: 2, size: 7, total: 9 });
    // A member more (refused by the pipe) or less is not the same input.
    await expect(call({ page: 2, size: 7, extra: 1 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await call({ page: 2 })).toEqual({ page: 2, size: 25, total: 9 });
    await expect(call({ page: 2, size: 0 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(resolver.calls).toHaveLength(6);
  });

  it('refuses to start for a field without a scope, with a project id argument, or of another shape', () => {
    expect(() => setUp([{ method: 'environmentsUnscoped' }])).toThrow(/no @RequireScope/);
    expect(() => setUp([{ field: 'byProject', method: 'byProject' }])).toThrow(/takes a project id/);
    // The guard reads a project id one level down too (`filter: { projectId }`).
    expect(() => setUp([{ field: 'byFilter', method: 'byProject' }])).toThrow(/takes a project id/);
    expect(() => setUp([{ method: 'noParent' }])).toThrow(/must be \(@Parent\(\), @Args\(\), @Context\(\)\)/);
    expect(() => setUp([{ field: 'missing' }])).toThrow(/not in the schema/);
  });
});
