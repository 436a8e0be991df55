import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppModule } from '../app.module';
import { buildOpenApiDocument, undocumentedOperations } from '../common/http/openapi';
import { loadConfig } from '../config';

const OPENAPI_FILE = resolve(__dirname, '..', '..', 'openapi.json');

/**
 * The OpenAPI document as `/api/docs-json` serves it, built without starting a server or connecting to
 * anything: the application is created (its providers constructed) but never initialised or listening.
 * Not Nest's preview mode: the GraphQL module initialises even there, on providers it left unconstructed.
 */
export async function buildOpenApiJson(): Promise<string> {
  // Sandbox defaults: no credentials, no Redis.
  const config = loadConfig({ LOG_LEVEL: 'silent' });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    new FastifyAdapter(),
    {
      logger: false,
      abortOnError: false, // throw (and say why) instead of exiting silently
    },
  );
  try {
    const document = buildOpenApiDocument(app);
    const undocumented = undocumentedOperations(document);
    if (undocumented.length > 0) {
      throw new Error(
        `Operations without @RestOperation or @PublicOperation (an operation id and security): ${undocumented.join(', ')}`,
      );
    }
    return JSON.stringify(document, null, 2) + '\n';
  } finally {
    await app.close();
  }
}

/** `--file <path>` writes or checks another file than the repository's openapi.json (used by its tests). */
function targetFile(argv: string[]): string {
  const index = argv.indexOf('--file');
  return index >= 0 && argv[index + 1] ? resolve(argv[index + 1]) : OPENAPI_FILE;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const file = targetFile(process.argv);
  const json = await buildOpenApiJson();
  if (!check) {
    writeFileSync(file, json);
    console.log(`Wrote ${file}`);
    return;
  }
  const committed = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (committed === json) {
    console.log(`${file} is up to date`);
    return;
  }
  const a = committed.split('\n');
  const b = json.split('\n');
  let line = 0;
  while (line < Math.max(a.length, b.length) && a[line] === b[line]) line++;
  console.error(
    `${file} has drifted from the code (first difference at line ${line + 1}):\n` +
      `  committed: ${a[line] ?? '<end of file>'}\n  generated: ${b[line] ?? '<end of file>'}\n` +
      "Run 'npm run openapi' and commit openapi.json.",
  );
  process.exitCode = 1;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 2;
  });
}
