import { Extensions } from '@nestjs/graphql';
import { RouteConfig } from '@nestjs/platform-fastify';

/** The member of a Fastify route's `config` and of a GraphQL field's `extensions` that declares it. */
export const WHOLE_ANSWER_CACHEABLE = 'wholeAnswerCacheable';

declare module 'fastify' {
  interface FastifyContextConfig {
    [WHOLE_ANSWER_CACHEABLE]?: boolean;
  }
}

/**
 * Declares that the whole answer of a REST route or GraphQL field may be served again from the hot-read
 * cache (per caller rights, for about a second): a read built only from cached Maia lookups. On a GraphQL object
 * type it declares every field of the type. Nest hands the declaration to Fastify as route config and to
 * the schema as extensions, where the hot-read cache finds it; nothing is listed in `hot-read/`.
 */
export function WholeAnswerCacheable(): ClassDecorator & MethodDecorator & PropertyDecorator {
  const extensions = Extensions({ [WHOLE_ANSWER_CACHEABLE]: true });
  const routeConfig = RouteConfig({ [WHOLE_ANSWER_CACHEABLE]: true });
  return (target: object, key?: string | symbol, descriptor?: PropertyDescriptor): void => {
    extensions(target, key as string | symbol);
    // A method: maybe a REST route handler, whose Fastify route gets the declaration in its config.
    if (key !== undefined && descriptor) routeConfig(target, key, descriptor);
  };
}
