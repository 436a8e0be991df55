import { CanActivate, ExecutionContext, Injectable, Logger, Optional, Inject } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { GqlExecutionContext, type GqlContextType } from '@nestjs/graphql';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../common/errors';
import { UUID_PATTERN } from '../common/validation/uuid';
import { AccessPolicy, projectNotFound } from './access-policy';
import { AuthGate } from './auth-gate.service';
import { clientIpOf } from './client-ip';
import { requestContextOf } from './current-principal.decorator';
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
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly logger = new Logger('AuthGuard');

  constructor(
    private readonly reflector: Reflector,
    private readonly gate: AuthGate,
    private readonly policy: AccessPolicy,
    // Absent in unit contexts of other modules, which run without the projects module.
    @Optional() @Inject(PROJECT_DIRECTORY) private readonly directory?: ProjectDirectory,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, targets);
    const ctx = requestContextOf(context);
    if (!ctx) {
      // No other transport is served; refuse rather than guess.
      this.logger.error(`Unsupported context type ${context.getType()}: refused`);
      return false;
    }
    const request = this.requestOf(context);
    const principal = await this.gate.admit(ctx, request?.headers, () => clientIpOf(request));
    if (!scope) {
      this.logger.error(
        `${context.getClass().name}.${context.getHandler().name} has no @RequireScope: refused`,
      );
      throw new GatewayError(ErrorCode.FORBIDDEN, 'This operation is not available');
    }
    this.policy.assertScope(principal, scope);

    const names =
      this.reflector.getAllAndOverride<string[] | undefined>(PROJECT_ID_ARGS, targets) ??
      DEFAULT_PROJECT_ID_ARGS;
    for (const projectId of projectIdsIn(this.argBagsOf(context), names)) {
      if (!UUID_PATTERN.test(projectId)) {
        throw new GatewayError(ErrorCode.BAD_USER_INPUT, 'Invalid input: projectId must be a UUID', {
          fields: 'projectId',
        });
      }
      this.policy.assertProject(principal, projectId);
      if (this.directory) {
        const wanted = projectId.toLowerCase();
        const projects = await this.directory.directory();
        if (!projects.some((p) => p.id.toLowerCase() === wanted)) throw projectNotFound(projectId);
      }
    }
    return true;
  }

  /**
   * The HTTP request whose headers carry the credentials. Undefined for graphql-ws, whose connection was
   * admitted by `onConnect` from its `connection_init` payload (never from the upgrade request's headers).
   */
  private requestOf(context: ExecutionContext): FastifyRequest | undefined {
    if (context.getType<GqlContextType>() === 'graphql') {
      const value = GqlExecutionContext.create(context).getContext<{ transport?: string; req?: unknown }>();
      return value?.transport === 'http' ? (value.req as FastifyRequest) : undefined;
    }
    return context.switchToHttp().getRequest<FastifyRequest>();
  }

  /** Argument bags that may name a project: GraphQL args, or REST params, query and body. */
  private argBagsOf(context: ExecutionContext): unknown[] {
    if (context.getType<GqlContextType>() === 'graphql')
      return [GqlExecutionContext.create(context).getArgs()];
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    return [req.params, req.query, req.body];
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
