import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { ErrorCode, GatewayError } from '../errors';
import { JSON_BODY_REQUIRED } from './to-gateway-error';

/** `application/json` and the `+json` family (`application/merge-patch+json`, ...), any parameters. */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

/** Whether a request carries a body (a length other than 0, or chunks). */
export function hasBody(request: { headers: IncomingHttpHeaders }): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * A REST request that carries a body in another format than JSON (a form, plain text, none declared) is
 * answered 415 with a message that says so, before validation would list the body's text as unexpected
 * properties. Bodyless requests and GraphQL (served by Apollo, not by controllers) are not concerned.
 *
 * A guard after the auth guard, not an interceptor: the answers and their order are the same (refusals of
 * the caller first, then the media type, then validation), but with no interceptor at all Nest calls
 * handlers and resolvers directly instead of through an RxJS pipeline and `AsyncResource.bind` (whose
 * Node 20 deprecation wrapper alone was ~3% of a REST read).
 */
@Injectable()
export class JsonBodyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.getType() === 'http') {
      const request = context.switchToHttp().getRequest<FastifyRequest>();
      if (hasBody(request) && !JSON_MEDIA_TYPE.test(request.headers['content-type'] ?? '')) {
        throw new GatewayError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, JSON_BODY_REQUIRED);
      }
    }
    return true;
  }
}
