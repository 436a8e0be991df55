import { CanActivate, ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../common/errors';
import { AccessPolicy, projectNotFound } from './access-policy';
import { carriersOfGraphqlContext, type AuthState } from './auth-state';
import { AuthGate } from './auth-gate.service';
import { clientIpOf } from './client-ip';
import { type CredentialSource } from './credentials';
import { DEFAULT_PROJECT_ID_ARGS, PROJECT_ID_ARGS } from './project-args.decorator';
import { PROJECT_DIRECTORY, type ProjectDirectory } from './project-directory';
import { IS_PUBLIC } from './public.decorator';
import { REQUIRED_SCOPE, type Scope } from './require-scope.decorator';
import { UUID_PATTERN } from '../common/validation/uuid';

/** One request or operation as the guard sees it, whatever the transport. */
interface Target {
  carriers: object[];
  credentials: CredentialSource | undefined;
  ip: string;
  /** Argument bags that may name a project: GraphQL args, or REST params, query and body. */
  argBags: unknown[];
  /** GraphQL only: the context value, which gets the principal as `principal`. */
  graphqlContext?: Record<string, unknown>;
}

/**
 * The one guard of every REST route, GraphQL query, mutation and subscription (registered globally):
 *
 * 1. `@Public()` routes pass. Anything else without `@RequireScope` is refused: fail closed, so a new
 *    operation cannot ship unprotected by forgetting the decorator.
 * 2. Authenticates once per request (REST, GraphQL over HTTP) or connection (graphql-ws, where
 *    `onConnect` already did it), charging the client's rate limit once.
 * 3. Checks the scope (403 FORBIDDEN), then every project id among the arguments: not a UUID is
 *    BAD_USER_INPUT; not the caller's, or not in the project directory, is the same 404 NOT_FOUND.
 * 4. Leaves the principal in the `RequestContext` and the auth state, for `@CurrentPrincipal()`.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly logger = new Logger('AuthGuard');

  constructor(
    private readonly reflector: Reflector,
    private readonly gate: AuthGate,
    private readonly policy: AccessPolicy,
    private readonly moduleRef: ModuleRef,
  ) {}

  private directoryLookup: { directory: ProjectDirectory | undefined } | undefined;

  /** The projects module's directory, when there is one (unit tests of other modules run without it). */
  private projectDirectory(): ProjectDirectory | undefined {
    if (!this.directoryLookup) {
      let directory: ProjectDirectory | undefined;
      try {
        directory = this.moduleRef.get<ProjectDirectory>(PROJECT_DIRECTORY, { strict: false });
      } catch {
        directory = undefined;
      }
      this.directoryLookup = { directory };
    }
    return this.directoryLookup.directory;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, targets);
    const target = this.targetOf(context);
    if (!target) return false;

    const state = await this.authenticate(target);
    if (target.graphqlContext && target.graphqlContext.principal === undefined) {
      target.graphqlContext.principal = state.principal;
    }
    if (!scope) {
      this.logger.error(
        `${context.getClass().name}.${context.getHandler().name} has no @RequireScope: refused`,
      );
      throw new GatewayError(ErrorCode.FORBIDDEN, 'This operation is not available');
    }
    this.policy.assertScope(state.principal, scope);

    const names =
      this.reflector.getAllAndOverride<string[] | undefined>(PROJECT_ID_ARGS, targets) ??
      DEFAULT_PROJECT_ID_ARGS;
    for (const projectId of projectIdsIn(target.argBags, names)) {
      if (!UUID_PATTERN.test(projectId)) {
        throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'Invalid input: projectId must be a UUID', {
          fields: 'projectId',
        });
      }
      this.policy.assertProject(state.principal, projectId);
      const directory = this.projectDirectory();
      if (directory) {
        const wanted = projectId.toLowerCase();
        const projects = await directory.directory();
        if (!projects.some((p) => p.id.toLowerCase() === wanted)) throw projectNotFound(projectId);
      }
    }
    return true;
  }

  private authenticate(target: Target): Promise<AuthState> {
    return this.gate.admit({
      carriers: target.carriers,
      credentials: target.credentials,
      ip: target.ip,
      transport: 'http',
    });
  }

  private targetOf(context: ExecutionContext): Target | undefined {
    const type = context.getType<GqlContextType>();
    if (type === 'graphql') {
      const gql = GqlExecutionContext.create(context);
      const value = gql.getContext<Record<string, unknown> | undefined>();
      const carriers = carriersOfGraphqlContext(value);
      const req = (value?.req ?? value?.request) as FastifyRequest | undefined;
      const extra = value?.extra as { request?: unknown } | undefined;
      // graphql-ws: the connection_init payload, not the upgrade request's headers.
      const credentials = (value?.connectionParams ?? req?.headers ?? undefined) as
        CredentialSource | undefined;
      return {
        carriers,
        credentials,
        ip: clientIpOf(req ?? extra?.request),
        argBags: [gql.getArgs()],
        graphqlContext: value,
      };
    }
    if (type === 'http') {
      const req = context.switchToHttp().getRequest<FastifyRequest>();
      return {
        carriers: [req, req.raw],
        credentials: req.headers,
        ip: clientIpOf(req),
        argBags: [req.params, req.query, req.body],
      };
    }
    // No other transport is served; refuse rather than guess.
    this.logger.error(`Unsupported context type ${type}: refused`);
    return undefined;
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
