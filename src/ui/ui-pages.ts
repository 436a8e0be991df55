import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { GraphqlExplorer } from '../config/server.config';

/** Where every page's files are served from: `/ui/<app>/<file>`, on the gateway's own origin. */
export const UI_ASSET_PREFIX = '/ui';

/**
 * The pages' policy: their own scripts, styles and connections only (graphql-ws included: `'self'` covers
 * ws: and wss: on the same host), no inline script, no frame, no form posting elsewhere. GraphiQL's fonts
 * are data: URLs inside its CSS.
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * The bundles `scripts/build-ui.mjs` writes to `dist/ui/<app>/`. Compiled, this file sits in `dist/ui/`
 * itself; run from source (ts-jest), the built files are in the repository's `dist/ui/`.
 */
function uiRoot(): string {
  const beside = __dirname;
  return existsSync(join(beside, 'explorer')) ? beside : join(__dirname, '..', '..', 'dist', 'ui');
}

/**
 * Serves prebuilt browser pages with a tiny handler of our own (`@fastify/static` pulls an ESM-only
 * dependency the test runner cannot load, see `setupOpenApi`). Files (and their gzip twins, sent to clients that accept gzip) are read once, on first request, so
 * the gateway's start does no UI work at all.
 */
export class UiPages {
  private readonly root = uiRoot();
  private readonly files = new Map<string, Buffer>();

  constructor(private readonly apps: readonly string[]) {}

  /** `/ui/<app>/<file>` for every app: only the files the build wrote, by their plain names. */
  installAssets(fastify: FastifyInstance): void {
    fastify.get<{ Params: { app: string; file: string } }>(
      `${UI_ASSET_PREFIX}/:app/:file`,
      (request, reply) => {
        const { app, file } = request.params;
        const type = contentTypes[extname(file)];
        const known = this.apps.includes(app) && type !== undefined && /^[\w.-]+$/.test(file);
        const gzip = known && acceptsGzip(request) ? this.read(app, `${file}.gz`) : undefined;
        const body = gzip ?? (known ? this.read(app, file) : undefined);
        if (!body || !type) return reply.code(404).type('text/plain; charset=utf-8').send('Not Found');
        if (gzip) void reply.header('content-encoding', 'gzip');
        return reply
          .type(type)
          .header('vary', 'accept-encoding')
          .header('content-security-policy', UI_CONTENT_SECURITY_POLICY)
          .header('x-content-type-options', 'nosniff')
          .header('cache-control', 'no-cache')
          .send(body);
      },
    );
  }

  /** Answers with an app's page, or 503 saying how to build it when `dist/ui` has no such page. */
  sendPage(reply: FastifyReply, app: string): FastifyReply {
    const page = this.read(app, 'index.html');
    if (!page) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send(`The ${app} page is not built: run npm run build.`);
    }
    return reply
      .type(contentTypes['.html'])
      .header('content-security-policy', UI_CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(page);
  }

  private read(app: string, file: string): Buffer | undefined {
    const key = `${app}/${file}`;
    let body = this.files.get(key);
    if (!body) {
      const path = join(this.root, app, file);
      if (!existsSync(path)) return undefined;
      body = readFileSync(path);
      this.files.set(key, body);
    }
    return body;
  }
}

/** Every browser does; a client that does not still gets the plain file. */
function acceptsGzip(request: FastifyRequest): boolean {
  return /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
}

/** A GET a browser makes for a page: it asks for HTML (GraphQL clients ask for JSON or nothing). */
export function wantsHtml(request: FastifyRequest): boolean {
  return request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');
}

/**
 * GraphiQL at `/graphql` for a browser's GET; every other request (POST, GET with a JSON Accept, the
 * graphql-ws upgrade) goes on to Apollo. A hook, since Apollo already owns the route.
 */
export function installGraphiql(fastify: FastifyInstance, pages: UiPages, graphqlPath: string): void {
  fastify.addHook('onRequest', async (request, reply) => {
    if (!wantsHtml(request) || request.url.split('?')[0] !== graphqlPath) return;
    return pages.sendPage(reply, 'explorer');
  });
}

/** The run console's base path: `/console` and every path below it (client-side routes) answer its page. */
export const CONSOLE_PATH = '/console';

/**
 * The run console for a browser's GET of `/console` or `/console/...` (its routes are the browser's own,
 * e.g. `/console/runs/{projectId}/{executionId}`, so a reload or a shared link opens the same page).
 */
export function installConsole(fastify: FastifyInstance, pages: UiPages): void {
  const send = (_request: FastifyRequest, reply: FastifyReply) => pages.sendPage(reply, 'console');
  fastify.get(CONSOLE_PATH, send);
  fastify.get(`${CONSOLE_PATH}/*`, send);
}

/**
 * The browser pages the configuration asks for. Their assets are served only when a page is: with the
 * explorer off (production's default) `/ui/explorer/*` answers 404 like any unknown path.
 */
export function installUiPages(
  fastify: FastifyInstance,
  options: { explorer: GraphqlExplorer; runConsole: boolean },
  graphqlPath: string,
): void {
  const apps = [
    ...(options.explorer === 'graphiql' ? ['explorer'] : []),
    ...(options.runConsole ? ['console'] : []),
  ];
  const pages = new UiPages(apps);
  pages.installAssets(fastify);
  if (options.explorer === 'graphiql') installGraphiql(fastify, pages, graphqlPath);
  if (options.runConsole) installConsole(fastify, pages);
  // The start banner's first address is the gateway's root: a person who opens it lands in the explorer.
  if (options.explorer !== 'off') fastify.get('/', (_request, reply) => reply.redirect(graphqlPath, 302));
}
