import type { INestApplication } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { dirname, join } from 'node:path';
import { ErrorCode, errorCodeMeanings } from '../errors';
import { GATEWAY_EXTENSIONS_TAG } from './maia-routes';
import { ProblemDto } from './problem.dto';
import { API_KEY_SCHEME, BEARER_SCHEME, GATEWAY_EXTENSION } from './rest-operation.decorator';

export const OPENAPI_PATH = '/api/docs';
/** The document itself; `openapi.json` at the repository root is the same document, committed. */
export const OPENAPI_JSON_PATH = `${OPENAPI_PATH}-json`;
export const OPENAPI_VERSION = '3.1.0';
/** The schema name of the code enum (`enumName` of `ProblemDto.code`). */
const ERROR_CODE_SCHEMA = 'ErrorCode';

/** Parameters Maia does not have: marked as gateway extensions wherever they appear. */
const GATEWAY_EXTENSION_PARAMETERS = new Set(['waitSeconds', 'Idempotency-Key']);

/** The prefix under which Maia's routes are mounted a second time, for clients that swap only the host. */
const MAIA_OWN_PREFIX = '/dpc/v1/';
/** The operation id suffix of that second mount (OpenAPI wants every operation id unique). */
export const MAIA_PATH_ALIAS_SUFFIX = 'ViaDpcPath';

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

const initJs = `window.ui = SwaggerUIBundle({ url: '${OPENAPI_JSON_PATH}', dom_id: '#swagger-ui', deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: 'StandaloneLayout' });`;

const DESCRIPTION = [
  "Maia's own paths, bodies and shapes under `/api/v1`, and again under `/dpc/v1` (Maia's own prefix, for a",
  'client that swaps only the host): a service that speaks Maia switches its base URL and drops its Maia',
  `credentials. Operations Maia does not have are tagged "${GATEWAY_EXTENSIONS_TAG}" and marked`,
  `\`${GATEWAY_EXTENSION}: true\`; so are parameters Maia does not take.`,
  '',
  "Every error is one JSON body that both kinds of client read: Maia's `error` and `status`, RFC 9457's",
  "`type`, `title` and `detail`, and the gateway's stable `code` (the same as GraphQL's `extensions.code`).",
  '',
  'In sandbox mode the examples run as printed against the seeded Maia emulator.',
].join('\n');

/**
 * The OpenAPI 3.1 document of the REST face, from the application's controllers and DTOs. The same function
 * serves `/api/docs-json` and writes `openapi.json` (`src/schema/print-openapi.ts`), so the two never differ.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setOpenAPIVersion(OPENAPI_VERSION)
    .setTitle('maia-gateway REST API')
    .setDescription(DESCRIPTION)
    .setVersion('1')
    .addApiKey(
      { type: 'apiKey', name: 'X-API-Key', in: 'header', description: 'A key from AUTH_API_KEYS.' },
      API_KEY_SCHEME,
    )
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT from AUTH_JWKS_URL.' },
      BEARER_SCHEME,
    )
    .addTag(GATEWAY_EXTENSIONS_TAG, 'Operations Maia does not have.')
    .build();
  const raw = SwaggerModule.createDocument(app, config, { extraModels: [ProblemDto] });
  return finishDocument(raw);
}

/** What Nest's generator leaves for 3.0, made 3.1, with unique operation ids and stable key order. */
export function finishDocument(raw: OpenAPIObject): OpenAPIObject {
  const document = toOpenApi31(structuredClone(raw)) as OpenAPIObject;
  document.openapi = OPENAPI_VERSION;
  // DocumentBuilder's empty defaults say nothing (no servers: the document's own origin, which is the gateway).
  if (document.servers?.length === 0) delete document.servers;
  if (document.info.contact && Object.keys(document.info.contact).length === 0) delete document.info.contact;
  for (const [path, item] of Object.entries(document.paths)) {
    for (const operation of operationsOf(item)) {
      if (path.startsWith(MAIA_OWN_PREFIX) && operation.operationId) {
        operation['x-same-operation-as'] = operation.operationId;
        operation.operationId = `${operation.operationId}${MAIA_PATH_ALIAS_SUFFIX}`;
      }
      // Success answers described by their status's name where the route gave no words of its own.
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (response.description === '') response.description = STATUS_CODES[Number(status)] ?? status;
      }
      for (const parameter of (operation.parameters ?? []) as Record<string, unknown>[]) {
        if (GATEWAY_EXTENSION_PARAMETERS.has(String(parameter.name))) parameter[GATEWAY_EXTENSION] = true;
      }
    }
  }
  describeErrorCodes(document);
  return sortKeys(document) as OpenAPIObject;
}

/** The code enum says what each code means (one list, `errorCodeMeanings`), for readers and generators. */
function describeErrorCodes(document: OpenAPIObject): void {
  const schema = document.components?.schemas?.[ERROR_CODE_SCHEMA] as Record<string, unknown> | undefined;
  if (!schema) return;
  const codes = Object.values(ErrorCode);
  schema.description = [
    'The stable code of an error: the same in REST problem bodies, GraphQL `extensions.code` and SSE error events.',
    '',
    ...codes.map((code) => `- \`${code}\`: ${errorCodeMeanings[code]}`),
  ].join('\n');
  schema['x-enum-descriptions'] = codes.map((code) => errorCodeMeanings[code]);
}

type Operation = Record<string, unknown> & {
  operationId?: string;
  parameters?: unknown[];
  responses?: Record<string, { description?: string }>;
};
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

export function operationsOf(item: unknown): Operation[] {
  const record = item as Record<string, Operation | undefined>;
  return METHODS.map((method) => record[method]).filter((operation) => operation !== undefined);
}

/**
 * The document's operations that say nothing of their security or carry a framework-made id: each must be
 * documented with `@RestOperation` or `@PublicOperation` (the print script refuses to write them).
 */
export function undocumentedOperations(document: OpenAPIObject): string[] {
  const found: string[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = (item as Record<string, Operation | undefined>)[method];
      if (!operation) continue;
      if (!Array.isArray(operation.security) || /_/.test(operation.operationId ?? '_')) {
        found.push(`${method.toUpperCase()} ${path}`);
      }
    }
  }
  return found;
}

/**
 * OpenAPI 3.0's `nullable` becomes a JSON Schema type union (3.1), and a nullable reference an `anyOf`
 * with `null`. Nothing else Nest writes differs between the two versions for this API.
 *
 * And numbers are integers: every number of this API is a page, a size, a count, a limit or seconds (the
 * validators say `IsInt`), but Nest writes TypeScript's `number` as `type: number`. A fractional member
 * would say so with `format: 'double'` and stay a number.
 */
function toOpenApi31(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toOpenApi31);
  if (!node || typeof node !== 'object') return node;
  const object = Object.fromEntries(
    Object.entries(node as Record<string, unknown>).map(([key, value]) => [key, toOpenApi31(value)]),
  );
  if (object.type === 'number' && object.format === undefined) object.type = 'integer';
  if (!('nullable' in object)) return object;
  const { nullable, ...schema } = object;
  if (nullable !== true) return schema;
  if (Array.isArray(schema.allOf) && schema.allOf.length === 1) {
    // Nest writes a nullable reference as `{ type: 'object', allOf: [{ $ref }] }`.
    const { allOf, type: _objectType, ...rest } = schema;
    return { ...rest, anyOf: [...(allOf as unknown[]), { type: 'null' }] };
  }
  if (typeof schema.type === 'string') {
    const enumeration = Array.isArray(schema.enum) ? { enum: [...(schema.enum as unknown[]), null] } : {};
    return { ...schema, ...enumeration, type: [schema.type, 'null'] };
  }
  return { anyOf: [schema, { type: 'null' }] };
}

/** Object keys in a stable order (arrays keep theirs: parameters, enums and `required` mean their order). */
function sortKeys(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(sortKeys);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.keys(node)
      .sort()
      .map((key) => [key, sortKeys((node as Record<string, unknown>)[key])]),
  );
}

/**
 * The OpenAPI document at `/api/docs-json` and Swagger UI at `/api/docs`. The UI's three files are served by a
 * small route of our own: `@fastify/static` (what SwaggerModule would use) pulls an ESM-only dependency that
 * the test runner cannot load.
 */
export function setupOpenApi(app: NestFastifyApplication): void {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup(OPENAPI_PATH, app, document, { ui: false, jsonDocumentUrl: OPENAPI_JSON_PATH });

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
