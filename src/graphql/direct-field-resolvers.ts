import type { IncomingMessage } from 'node:http';
import type { Type } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import {
  getNamedType,
  GraphQLInputObjectType,
  GraphQLObjectType,
  type GraphQLArgument,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from 'graphql';
import { AccessPolicy } from '../auth/access-policy';
import { unauthenticated } from '../auth/auth.service';
import { DEFAULT_PROJECT_ID_ARGS, PROJECT_ID_ARGS } from '../auth/project-args.decorator';
import { REQUIRED_SCOPE, type Scope } from '../auth/require-scope.decorator';
import { RequestContext } from '../common/request-context';
import { GatewayValidationPipe } from '../common/validation';
import type { GraphqlContext } from './graphql-context';

/**
 * A field resolver of a lookup type that graphql-js calls directly, not through Nest's per-call context
 * creation. Its method keeps the shape Nest knows, `(@Parent() parent, @Args() args, @Context() ctx)`, and
 * its decorators (`@ResolveField`, `@RequireScope`, `@Args` for the schema): only the call changes.
 */
export interface DirectField {
  /** The GraphQL object type and field (`Project.environments`). */
  type: string;
  field: string;
  resolver: Type<object>;
  method: string;
  /** The `@Args()` class, validated by the same pipe as every other argument. */
  args: Type<object>;
}

/** How Nest records `@Parent()`, `@Args()` and `@Context()` at positions 0, 1, 2 (`GqlParamtype:index`). */
const PARENT_ARGS_CONTEXT = ['0:0', '1:2', '3:1'];
const NEST_PARAMS = '__routeArguments__';

/** Something that hands out the application's instances (Nest's `ModuleRef`). */
export interface InstanceSource {
  get<T>(type: Type<T>, options: { strict: false }): T;
}

/**
 * Nest calls a field resolver through its external context creator: an execution context, the global
 * guards (the auth guard, the JSON-body guard), a pipe per parameter, the parameter factories and ~15
 * promises, for every call. A nested read calls a field resolver per project and per environment, so this
 * was paid dozens of times per request to re-derive what the edge decided once (the caller, admitted
 * before execution starts) and to check the same scope again.
 *
 * A direct field does exactly what the guard and the pipe did for it, in one function: the principal the
 * edge admitted for the request (none: UNAUTHENTICATED), its scope (`@RequireScope` of the method:
 * FORBIDDEN), the arguments validated by `GatewayValidationPipe`; then the method. Only fields whose
 * arguments name no project may be direct (the guard's project checks are not repeated here): checked at
 * start-up, as are the scope (fail closed: none declared, no start) and the method's parameters.
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
      const projectArgs = [
        ...DEFAULT_PROJECT_ID_ARGS,
        ...((Reflect.getMetadata(PROJECT_ID_ARGS, method) as string[] | undefined) ?? []),
      ];
      if (field.args.some((arg) => namesProjectId(arg, projectArgs))) {
        throw new Error(`Direct field ${name} takes a project id: it needs the guard's project checks`);
      }
      const params = Object.keys(
        (Reflect.getMetadata(NEST_PARAMS, declared.resolver, declared.method) as object | undefined) ?? {},
      ).sort();
      if (params.join() !== PARENT_ARGS_CONTEXT.join()) {
        throw new Error(`Direct field ${name} must be (@Parent(), @Args(), @Context())`);
      }
      const instance = this.instances.get(declared.resolver, { strict: false });
      const call = method as (parent: unknown, args: unknown, ctx: unknown) => unknown;
      const metadata = { type: 'body' as const, metatype: declared.args, data: undefined };
      const pipe = this.pipe;
      const last = new LastValidArgs();
      // Not async: arguments the pipe has validated before (a page and size, the same in every call of a
      // nested read) are taken without waiting a turn, and the method's own promise is the field's. A
      // refusal thrown here is the field's error just as a rejection is (graphql-js and graphql-jit alike).
      const resolve: GraphQLFieldResolver<unknown, GraphqlContext, Record<string, unknown>> = (
        parent,
        args,
        ctx,
      ) => {
        const principal = requestContextOf(ctx)?.principal;
        if (!principal) throw unauthenticated();
        policy.assertScope(principal, scope);
        const known = last.copyFor(args) ?? last.keep(args, pipe.transformKnown(args, metadata));
        if (known !== undefined) return call.call(instance, parent, known, ctx);
        return pipe.transform(args, metadata).then((valid) => call.call(instance, parent, valid, ctx));
      };
      field.resolve = resolve;
    }
    return schema;
  }
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
