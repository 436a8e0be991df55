import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const OPENAPI_PATH = '/api/docs';

/** Swagger UI's files, from swagger-ui-dist (a dependency of @nestjs/swagger). */
const assets: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
};

function swaggerUiDir(): string {
  const swagger = require.resolve('@nestjs/swagger');
  return dirname(require.resolve('swagger-ui-dist/package.json', { paths: [swagger] }));
}

function indexHtml(): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>maia-gateway REST API</title>
<link rel="stylesheet" href="${OPENAPI_PATH}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="${OPENAPI_PATH}/swagger-ui-bundle.js"></script>
<script src="${OPENAPI_PATH}/swagger-ui-standalone-preset.js"></script>
<script src="${OPENAPI_PATH}/init.js"></script>
</body></html>`;
}

const initJs = `window.ui = SwaggerUIBundle({ url: '${OPENAPI_PATH}-json', dom_id: '#swagger-ui', deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });`;

/**
 * The OpenAPI document of `/api/v1` at `/api/docs-json` and Swagger UI at `/api/docs`. The UI's three files
 * are served by a small route of our own: `@fastify/static` (what SwaggerModule would use) pulls an
 * ESM-only dependency that the test runner cannot load.
 */
export function setupOpenApi(app: NestFastifyApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('maia-gateway REST API')
      .setDescription(
        "Maia's own paths, bodies and shapes under /api/v1: a service that speaks Maia switches its base URL and " +
          'drops its credentials. Errors are application/problem+json with a stable `code`.',
      )
      .setVersion('1')
      .addApiKey({ type: 'apiKey', name: 'X-API-Key', in: 'header' }, 'apiKey')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup(OPENAPI_PATH, app, document, { ui: false, jsonDocumentUrl: `${OPENAPI_PATH}-json` });

  const fastify = app.getHttpAdapter().getInstance();
  const dir = swaggerUiDir();
  const files = new Map<string, Buffer>();
  const html = indexHtml();
  fastify.get(OPENAPI_PATH, (_request, reply) => reply.type('text/html; charset=utf-8').send(html));
  fastify.get(`${OPENAPI_PATH}/init.js`, (_request, reply) =>
    reply.type(assets['swagger-ui-bundle.js']).send(initJs),
  );
  for (const [name, type] of Object.entries(assets)) {
    fastify.get(`${OPENAPI_PATH}/${name}`, (_request, reply) => {
      let body = files.get(name);
      if (!body) {
        body = readFileSync(join(dir, name));
        files.set(name, body);
      }
      return reply.type(type).header('cache-control', 'public, max-age=86400').send(body);
    });
  }
}
