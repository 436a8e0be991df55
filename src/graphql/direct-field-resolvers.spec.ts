import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import { createParamDecorator, UseGuards, type Type } from '@nestjs/common';
import { Args, Context, Info, Parent } from '@nestjs/graphql';
import { buildSchema, graphql, type GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { AccessPolicy } from '../auth/access-policy';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import type { Principal } from '../auth/principal';
import { ProjectIdArgs } from '../auth/project-args.decorator';
import { Public } from '../auth/public.decorator';
import { RequireScope, type Scope } from '../auth/require-scope.decorator';
import { RequestContext } from '../common/request-context';
import { DirectFieldResolvers, type DirectField, type InstanceSource } from './direct-field-resolvers';
import type { GraphqlContext } from './graphql-context';
import { PageArgs } from './page.args';

const SDL = `
  type Query { project: Project, projects(page: Int = 0, size: Int = 25): Page }
  type Project {
    name: String
    environments(page: Int = 0, size: Int = 25): Page
    byProject(projectId: ID): Page
    byFilter(filter: Filter): Page
    byTenant(tenantId: ID): Page
  }
  input Filter { projectId: ID }
  type Page { page: Int, size: Int, total: Int }
`;

const Tenant = createParamDecorator(() => 'tenant');

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
  noArgs(@Parent() _p: unknown, @Context() _c: unknown) {
    return {};
  }

  @RequireScope('read')
  namedArg(@Parent() _p: unknown, @Args('page') page: number) {
    return { page };
  }

  @RequireScope('read')
  otherDecorator(@Args() args: PageArgs, @Tenant() _tenant: unknown) {
    return args;
  }

  @RequireScope('read')
  withInfo(@Args() args: PageArgs, @Info() info: { fieldName: string }, @Parent() _p: unknown) {
    return { ...args, total: info.fieldName.length };
  }

  @RequireScope('read')
  @Public()
  open(@Args() args: PageArgs) {
    return args;
  }

  @RequireScope('read')
  @UseGuards(class {})
  guarded(@Args() args: PageArgs) {
    return args;
  }
}

/** Project id arguments declared once for the class, as the guard also reads them. */
@ProjectIdArgs('tenantId')
class TenantResolver {
  @RequireScope('read')
  byTenant(@Parent() _p: unknown, @Args() args: PageArgs, @Context() _c: unknown) {
    return args;
  }
}

/** A root field's resolver, shaped as `ProjectsResolver.projects`. */
class ListResolver {
  readonly calls: unknown[] = [];

  @RequireScope('read')
  list(@Args() args: PageArgs, @CurrentPrincipal() caller: Principal) {
    this.calls.push({ args, caller });
    return Promise.resolve({ page: args.page, size: args.size, total: caller.id.length });
  }
}

function setUp(fields: Partial<DirectField>[] = [{}]) {
  const resolver = new EnvironmentsResolver();
  const list = new ListResolver();
  const instances: InstanceSource = {
    get<T>(type: Type<T>): T {
      if (type === AccessPolicy) return new AccessPolicy() as T;
      return (type === ListResolver ? list : resolver) as T;
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
  return { resolver, list, schema };
}

const ROOT: Partial<DirectField> = {
  type: 'Query',
  field: 'projects',
  resolver: ListResolver,
  method: 'list',
};

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
    // Declared on the class, not the method: the guard would check it, so the field needs the guard.
    expect(() => setUp([{ field: 'byTenant', resolver: TenantResolver, method: 'byTenant' }])).toThrow(
      /takes a project id/,
    );
    const shape = /must take only @Parent\(\), @Args\(\), @Context\(\), @Info\(\) and @CurrentPrincipal\(\)/;
    expect(() => setUp([{ method: 'noArgs' }])).toThrow(shape);
    expect(() => setUp([{ method: 'namedArg' }])).toThrow(shape);
    expect(() => setUp([{ method: 'otherDecorator' }])).toThrow(shape);
    expect(() => setUp([{ method: 'open' }])).toThrow(/is @Public\(\): it needs the guard/);
    expect(() => setUp([{ method: 'guarded' }])).toThrow(/guards, interceptors, pipes or filters of its own/);
    expect(() => setUp([{ field: 'missing' }])).toThrow(/not in the schema/);
  });

  it('calls a root field with the validated arguments and the admitted principal', async () => {
    const { list, schema } = setUp([ROOT]);
    const caller = principal(['read']);
    const result = await run(schema, '{ projects(page: 1, size: 5) { page size total } }', caller);
    expect(result).toEqual({ data: { projects: { page: 1, size: 5, total: 1 } } });
    expect(await run(schema, '{ projects { page size } }', caller)).toEqual({
      data: { projects: { page: 0, size: 25 } },
    });
    const calls = list.calls as { args: unknown; caller: unknown }[];
    expect(calls).toHaveLength(2);
    expect(calls[0].args).toBeInstanceOf(PageArgs);
    expect(calls[0].caller).toBe(caller);
    expect(calls[1].caller).toBe(caller);
  });

  it('refuses a root field as the guard and the pipe did', async () => {
    const { list, schema } = setUp([ROOT]);
    const codeOf = async (source: string, caller?: Principal) =>
      (await run(schema, source, caller)).errors?.map((e) => [
        e.originalError?.name,
        (e.originalError as { code?: string })?.code,
        e.path,
      ]);
    const query = '{ projects { total } }';
    expect(await codeOf(query)).toEqual([['GatewayError', 'UNAUTHENTICATED', ['projects']]]);
    expect(await codeOf(query, principal(['execute']))).toEqual([
      ['GatewayError', 'FORBIDDEN', ['projects']],
    ]);
    expect(await codeOf('{ projects(size: 101) { total } }', principal(['read']))).toEqual([
      ['GatewayError', 'BAD_USER_INPUT', ['projects']],
    ]);
    expect(list.calls).toHaveLength(0);
    expect(await codeOf(query, principal(['admin']))).toBeUndefined();
    expect(list.calls).toHaveLength(1);
  });

  it('hands any other accepted order of parameters as declared', async () => {
    const { schema } = setUp([{ field: 'environments', method: 'withInfo' }]);
    const result = await run(
      schema,
      '{ project { environments(page: 3) { page size total } } }',
      principal(['read']),
    );
    expect(result).toEqual({ data: { project: { environments: { page: 3, size: 25, total: 12 } } } });
  });
});
