import type { IncomingMessage } from 'node:http';
import type { Type } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import {
  getNamedType,
  GraphQLInputObjectType,
  GraphQLObjectType,
  type GraphQLArgument,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
} from 'graphql';
import { AccessPolicy } from '../auth/access-policy';
import { unauthenticated } from '../auth/auth.service';
import { currentPrincipalArg } from '../auth/current-principal.decorator';
import type { Principal } from '../auth/principal';
import { DEFAULT_PROJECT_ID_ARGS, PROJECT_ID_ARGS } from '../auth/project-args.decorator';
import { IS_PUBLIC } from '../auth/public.decorator';
import { REQUIRED_SCOPE, type Scope } from '../auth/require-scope.decorator';
import { RequestContext } from '../common/request-context';
import { GatewayValidationPipe } from '../common/validation';
import type { GraphqlContext } from './graphql-context';

/**
 * A field resolver that graphql-js (or graphql-jit) calls directly, not through Nest's per-call context
 * creation: a field of a lookup type (`Project.environments`) or a root field (`Query.projects`). Its method
 * keeps the shape Nest knows and its decorators (`@ResolveField` or `@Query`, `@RequireScope`, `@Args` for
 * the schema): only the call changes.
 */
export interface DirectField {
  /** The GraphQL object type and field (`Project.environments`, `Query.projects`). */
  type: string;
  field: string;
  resolver: Type<object>;
  method: string;
  /** The `@Args()` class, validated by the same pipe as every other argument. */
  args: Type<object>;
}

/**
 * What a direct field hands its method, by position: the parameters Nest would give it, each one a direct
 * field can give without Nest (`GqlParamtype`: 0 `@Parent()`, 1 `@Context()`, 2 `@Info()`, 3 `@Args()`,
 * none of them naming a member; and `@CurrentPrincipal()`), none with pipes of its own.
 */
type Param = 'parent' | 'context' | 'info' | 'args' | 'principal';
const GQL_PARAMS: Record<string, Param> = { '0': 'parent', '1': 'context', '2': 'info', '3': 'args' };
/** Nest's metadata keys (`@nestjs/common` constants): a method's parameters, and what would wrap its call. */
const NEST_PARAMS = '__routeArguments__';
const CUSTOM_PARAM = '__customRouteArgs__';
const NEST_ENHANCERS = ['__guards__', '__interceptors__', '__pipes__', '__exceptionFilters__'];

/** Something that hands out the application's instances (Nest's `ModuleRef`). */
export interface InstanceSource {
  get<T>(type: Type<T>, options: { strict: false }): T;
}

type Call = (...params: unknown[]) => unknown;

/**
 * Nest calls a resolver through its external context creator: an execution context, the global guards
 * (the auth guard, the JSON-body guard), a pipe per parameter, the parameter factories and ~15 promises, for
 * every call. A nested read calls a field resolver per project and per environment, and every read calls
 * its root field once, so this was paid to re-derive what the edge decided once (the caller, admitted
 * before execution starts) and to check the same scope again.
 *
 * A direct field does exactly what the guard and the pipe did for it, in one function: the principal the
 * edge admitted for the request (none: UNAUTHENTICATED), its scope (`@RequireScope` of the method:
 * FORBIDDEN), the arguments validated by `GatewayValidationPipe`; then the method, with the parameters it
 * declares. Only fields whose arguments name no project may be direct (the guard's project checks are not
 * repeated here). Checked at start-up (fail closed: no start): the scope (none declared), the method's
 * parameters (only the parent, the arguments, the context, the info and `@CurrentPrincipal()`, as Nest
 * gives them), no `@Public()` (the guard would let such a field run without a caller), and no guard,
 * interceptor, pipe or filter of the method's or its class's own (only the global ones, which this replaces:
 * the JSON-body guard passes every GraphQL call, and the exception filter hands GraphQL errors back as they
 * are).
 */
export class DirectFieldResolvers {
  private readonly pipe = new GatewayValidationPipe();

  constructor(
    private readonly fields: readonly DirectField[],
    private readonly instances: InstanceSource,
  ) {}

  /** Replaces the resolvers of the declared fields in `schema` (in place) and returns it. */
  apply(schema: GraphQLSchema): GraphQLSchema {
    const policy = this.instances.get(AccessPolicy, { strict: false });
    for (const declared of this.fields) {
      const type = schema.getType(declared.type);
      const field = type instanceof GraphQLObjectType ? type.getFields()[declared.field] : undefined;
      const name = `${declared.type}.${declared.field}`;
      if (!field) throw new Error(`Direct field ${name} is not in the schema`);
      const method = (declared.resolver.prototype as Record<string, unknown>)[declared.method];
      if (typeof method !== 'function') throw new Error(`Direct field ${name}: no method ${declared.method}`);
      const scope = Reflect.getMetadata(REQUIRED_SCOPE, method) as Scope | undefined;
      if (!scope) throw new Error(`Direct field ${name} has no @RequireScope`);
      for (const target of [method, declared.resolver]) {
        if (Reflect.getMetadata(IS_PUBLIC, target) !== undefined) {
          throw new Error(`Direct field ${name} is @Public(): it needs the guard`);
        }
        if (NEST_ENHANCERS.some((key) => Reflect.getMetadata(key, target) !== undefined)) {
          throw new Error(`Direct field ${name} has guards, interceptors, pipes or filters of its own`);
        }
      }
      // Read as the guard reads it: the method's, else the class's.
      const declaredArgs = (Reflect.getMetadata(PROJECT_ID_ARGS, method) ??
        Reflect.getMetadata(PROJECT_ID_ARGS, declared.resolver)) as string[] | undefined;
      const projectArgs = [...DEFAULT_PROJECT_ID_ARGS, ...(declaredArgs ?? [])];
      if (field.args.some((arg) => namesProjectId(arg, projectArgs))) {
        throw new Error(`Direct field ${name} takes a project id: it needs the guard's project checks`);
      }
      const params = paramsOf(declared, name);
      const instance = this.instances.get(declared.resolver, { strict: false });
      field.resolve = resolverOf(params, instance, method as Call, scope, policy, this.pipe, declared.args);
    }
    return schema;
  }
}

/**
 * The parameters of a direct field's method, in order, as Nest records them (`GqlParamtype:index`, or a
 * custom decorator's `<id>__customRouteArgs__:index` with its factory); exactly one `@Args()`.
 */
function paramsOf(declared: DirectField, name: string): Param[] {
  const metadata = (Reflect.getMetadata(NEST_PARAMS, declared.resolver, declared.method) ?? {}) as Record<
    string,
    { index?: unknown; data?: unknown; pipes?: unknown[]; factory?: unknown }
  >;
  const params: Param[] = [];
  const refuse = (): never => {
    throw new Error(
      `Direct field ${name} must take only @Parent(), @Args(), @Context(), @Info() and @CurrentPrincipal(), ` +
        'none naming a member or with pipes',
    );
  };
  for (const [key, entry] of Object.entries(metadata)) {
    const kind = key.split(':')[0];
    const param: Param | undefined = kind.endsWith(CUSTOM_PARAM)
      ? entry.factory === currentPrincipalArg
        ? 'principal'
        : undefined
      : GQL_PARAMS[kind];
    if (!param || entry.data !== undefined || (entry.pipes?.length ?? 0) > 0) return refuse();
    if (typeof entry.index !== 'number' || params[entry.index] !== undefined) return refuse();
    params[entry.index] = param;
  }
  // Every position given (Nest would pass undefined for a hole), and the arguments exactly once.
  if (params.length === 0 || params.some((p) => p === undefined)) return refuse();
  if (params.filter((p) => p === 'args').length !== 1) return refuse();
  return params;
}

/**
 * The field's resolver. Not async: arguments the pipe has validated before (a page and size, the same in
 * every call of a nested read) are taken without waiting a turn, and the method's own promise is the
 * field's. A refusal thrown here is the field's error just as a rejection is (graphql-js and graphql-jit
 * alike).
 */
function resolverOf(
  params: readonly Param[],
  instance: object,
  method: Call,
  scope: Scope,
  policy: AccessPolicy,
  pipe: GatewayValidationPipe,
  argsType: Type<object>,
): GraphQLFieldResolver<unknown, GraphqlContext, Record<string, unknown>> {
  const metadata = { type: 'body' as const, metatype: argsType, data: undefined };
  const last = new LastValidArgs();
  const shape = params.join();
  // The two shapes the gateway declares get a call without a list of parameters built per call.
  const call: (
    parent: unknown,
    valid: object,
    ctx: GraphqlContext,
    info: GraphQLResolveInfo,
    principal: Principal,
  ) => unknown =
    shape === 'parent,args,context'
      ? (parent, valid, ctx) => method.call(instance, parent, valid, ctx)
      : shape === 'args,principal'
        ? (_parent, valid, _ctx, _info, principal) => method.call(instance, valid, principal)
        : (parent, valid, ctx, info, principal) => {
            const values = { parent, args: valid, context: ctx, info, principal };
            return method.apply(
              instance,
              params.map((param) => values[param]),
            );
          };
  return (parent, args, ctx, info) => {
    const principal = requestContextOf(ctx)?.principal;
    if (!principal) throw unauthenticated();
    policy.assertScope(principal, scope);
    const known = last.copyFor(args) ?? last.keep(args, pipe.transformKnown(args, metadata));
    if (known !== undefined) return call(parent, known, ctx, info, principal);
    return pipe
      .transform(args, metadata)
      .then((valid) => call(parent, valid as object, ctx, info, principal));
  };
}

/**
 * The arguments a field was last called with and what the pipe made of them, when they are flat (strings,
 * numbers, booleans, null): a nested read calls a field once per parent with equal arguments (an object
 * of the same members and values each time), and finding them again in the pipe built a key of every
 * member's JSON per call. Equal members (`===` on such values) get a copy of the same validated instance,
 * as the pipe would give; anything else asks the pipe.
 */
class LastValidArgs {
  private args: Record<string, unknown> | undefined;
  private names: string[] = [];
  private valid: object | undefined;

  copyFor(args: Record<string, unknown>): object | undefined {
    const last = this.args;
    if (last === undefined || this.valid === undefined || Object.getPrototypeOf(args) !== Object.prototype)
      return undefined;
    const names = this.names;
    let count = 0;
    for (const name in args) {
      if (count === names.length || names[count] !== name || args[name] !== last[name]) return undefined;
      count++;
    }
    if (count !== names.length) return undefined;
    return Object.assign(
      Object.create(Object.getPrototypeOf(this.valid) as object | null) as object,
      this.valid,
    );
  }

  /** Remembers flat `args` with their validated instance (left as it was, for the pipe's caller); returns it. */
  keep(args: Record<string, unknown>, valid: object | undefined): object | undefined {
    if (valid === undefined || Object.getPrototypeOf(args) !== Object.prototype) return valid;
    const copy: Record<string, unknown> = {};
    for (const name in args) {
      const value = args[name];
      if (value !== null && typeof value === 'object') return valid;
      if (typeof value === 'function' || typeof value === 'symbol') return valid;
      copy[name] = value;
    }
    this.args = copy;
    this.names = Object.keys(copy);
    this.valid = Object.assign(Object.create(Object.getPrototypeOf(valid) as object | null) as object, valid);
    return valid;
  }
}

/**
 * An argument the guard would read a project id from: named so, or an input with such a member (the guard
 * looks one level down, as in `filter: { projectId }`).
 */
function namesProjectId(arg: GraphQLArgument, names: readonly string[]): boolean {
  if (names.includes(arg.name)) return true;
  const type = getNamedType(arg.type);
  return (
    type instanceof GraphQLInputObjectType && Object.keys(type.getFields()).some((n) => names.includes(n))
  );
}

/** The request's (or graphql-ws connection's) `RequestContext`, found as the auth guard finds it. */
function requestContextOf(ctx: GraphqlContext | undefined): RequestContext | undefined {
  const request: FastifyRequest | IncomingMessage | undefined = ctx?.req;
  if (!request) return undefined;
  return RequestContext.of('raw' in request ? request.raw : request);
}
