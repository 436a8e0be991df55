import { CanActivate, ExecutionContext, Injectable, Logger, Optional, Inject } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../common/errors';
import { UUID_PATTERN } from '../common/validation/uuid';
import { AccessPolicy, projectNotFound } from './access-policy';
import { AuthGate } from './auth-gate.service';
import { clientIpOf } from './client-ip';
import { requestContextOfParts } from './current-principal.decorator';
import { type Principal } from './principal';
import { DEFAULT_PROJECT_ID_ARGS, PROJECT_ID_ARGS } from './project-args.decorator';
import { PROJECT_DIRECTORY, type ProjectDirectory } from './project-directory';
import { IS_PUBLIC } from './public.decorator';
import { REQUIRED_SCOPE, type Scope } from './require-scope.decorator';

/**
 * The one guard of every REST route, GraphQL query, mutation and subscription (registered globally):
 *
 * 1. `@Public()` routes pass. Anything else without `@RequireScope` is refused: fail closed, so a new
 *    operation cannot ship unprotected by forgetting the decorator.
 * 2. Admits the caller through `AuthGate` (authentication and one rate-limit charge per request); when an
 *    earlier edge (the hot-read front, the GraphQL plugin, graphql-ws `onConnect`) already did, it reads
 *    that outcome from the request's `RequestContext`.
 * 3. Checks the scope (403 FORBIDDEN), then every project id among the arguments: not a UUID is
 *    BAD_USER_INPUT; not the caller's, or not in the project directory, is the same 404 NOT_FOUND.
 */
/** What the decorators say of one handler of one class: read once, not on every request. */
interface HandlerRules {
  isPublic: boolean;
  scope: Scope | undefined;
  projectIdArgs: readonly string[];
}

@Injectable()
export class AuthGuard implements CanActivate {
  private readonly logger = new Logger('AuthGuard');
  /** Per handler, per class (an inherited handler may serve classes decorated differently). */
  private readonly rules = new WeakMap<object, WeakMap<object, HandlerRules>>();
  /** Lower-case ids of each directory array (frozen and shared until the directory is reloaded). */
  private readonly directoryIds = new WeakMap<object, ReadonlySet<string>>();

  constructor(
    private readonly reflector: Reflector,
    private readonly gate: AuthGate,
    private readonly policy: AccessPolicy,
    // Absent in unit contexts of other modules, which run without the projects module.
    @Optional() @Inject(PROJECT_DIRECTORY) private readonly directory?: ProjectDirectory,
  ) {}

  /**
   * Synchronous (a boolean, or a thrown refusal) when the decision needs no waiting: a public route, an
   * admission already made or decided from memory, and no project id to look up in the directory. A
   * promise otherwise. Field resolvers run this guard too, so the synchronous answer saves a promise and
   * its microtask hops on every guarded field (ADR 0038).
   */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const rules = this.rulesOf(context);
    if (rules.isPublic) return true;
    const type = context.getType<GqlContextType>();
    const graphql = type === 'graphql';
    const gql = graphql ? GqlExecutionContext.create(context) : undefined;
    const http = type === 'http' ? context.switchToHttp().getRequest<FastifyRequest>() : undefined;
    const ctx = gql || http ? requestContextOfParts(context, gql, http) : undefined;
    if (!ctx) {
      // No other transport is served; refuse rather than guess.
      this.logger.error(`Unsupported context type ${context.getType()}: refused`);
      return false;
    }
    const request = gql ? this.graphqlRequestOf(gql) : http;
    const admitted = this.gate.admit(ctx, request?.headers, () => clientIpOf(request));
    if (admitted instanceof Promise) {
      return admitted.then((principal) => this.decide(context, rules, gql, http, principal));
    }
    return this.decide(context, rules, gql, http, admitted);
  }

  private decide(
    context: ExecutionContext,
    rules: HandlerRules,
    gql: GqlExecutionContext | undefined,
    http: FastifyRequest | undefined,
    principal: Principal,
  ): boolean | Promise<boolean> {
    if (!rules.scope) {
      this.logger.error(
        `${context.getClass().name}.${context.getHandler().name} has no @RequireScope: refused`,
      );
      throw new GatewayError(ErrorCode.FORBIDDEN, 'This operation is not available');
    }
    this.policy.assertScope(principal, rules.scope);
    const bags = gql ? [gql.getArgs()] : [http?.params, http?.query, http?.body];
    const projectIds = projectIdsIn(bags, rules.projectIdArgs);
    if (projectIds.length === 0) return true;
    if (this.directory) return this.checkProjects(principal, projectIds, this.directory);
    for (const projectId of projectIds) this.checkProject(principal, projectId);
    return true;
  }

  /** Not a UUID is BAD_USER_INPUT; not the caller's is NOT_FOUND. */
  private checkProject(principal: Principal, projectId: string): void {
    if (!UUID_PATTERN.test(projectId)) {
      throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'Invalid input: projectId must be a UUID', {
        fields: 'projectId',
      });
    }
    this.policy.assertProject(principal, projectId);
  }

  /** Each id in turn: the caller's rights, then the directory (not in it: the same NOT_FOUND). */
  private async checkProjects(
    principal: Principal,
    projectIds: readonly string[],
    directory: ProjectDirectory,
  ): Promise<boolean> {
    for (const projectId of projectIds) {
      this.checkProject(principal, projectId);
      if (!this.idsOf(await directory.directory()).has(projectId.toLowerCase())) {
        throw projectNotFound(projectId);
      }
    }
    return true;
  }

  private idsOf(projects: ReadonlyArray<{ id: string }>): ReadonlySet<string> {
    let ids = this.directoryIds.get(projects);
    if (!ids) {
      ids = new Set(projects.map((p) => p.id.toLowerCase()));
      // Only a frozen array is the same list on every read; another is looked at afresh each time.
      if (Object.isFrozen(projects)) this.directoryIds.set(projects, ids);
    }
    return ids;
  }

  private rulesOf(context: ExecutionContext): HandlerRules {
    const handler = context.getHandler();
    const cls = context.getClass();
    let byClass = this.rules.get(handler);
    let rules = byClass?.get(cls);
    if (rules) return rules;
    const targets = [handler, cls];
    rules = {
      isPublic: this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) === true,
      scope: this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, targets),
      projectIdArgs:
        this.reflector.getAllAndOverride<string[] | undefined>(PROJECT_ID_ARGS, targets) ??
        DEFAULT_PROJECT_ID_ARGS,
    };
    if (!byClass) this.rules.set(handler, (byClass = new WeakMap()));
    byClass.set(cls, rules);
    return rules;
  }

  /**
   * The HTTP request whose headers carry the credentials. Undefined for graphql-ws, whose connection was
   * admitted by `onConnect` from its `connection_init` payload (never from the upgrade request's headers).
   */
  private graphqlRequestOf(gql: GqlExecutionContext): FastifyRequest | undefined {
    const value = gql.getContext<{ transport?: string; req?: unknown }>();
    return value?.transport === 'http' ? (value.req as FastifyRequest) : undefined;
  }
}

/** String values of the named members, at the top of each bag and one level down (`input`, `filter`). */
export function projectIdsIn(bags: readonly unknown[], names: readonly string[]): string[] {
  const out: string[] = [];
  const visit = (value: unknown, depth: number): void => {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return;
    for (const [key, member] of Object.entries(value as Record<string, unknown>)) {
      if (names.includes(key)) {
        if (typeof member === 'string') out.push(member);
        else if (Array.isArray(member)) out.push(...member.filter((m): m is string => typeof m === 'string'));
      } else if (depth < 1) {
        visit(member, depth + 1);
      }
    }
  };
  for (const bag of bags) visit(bag, 0);
  return [...new Set(out)];
}
