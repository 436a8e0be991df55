import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { codegen } from '@graphql-codegen/core';
import * as typescriptPlugin from '@graphql-codegen/typescript';
import * as typescriptOperationsPlugin from '@graphql-codegen/typescript-operations';
import { buildSchema, parse } from 'graphql';
import ts from 'typescript';

/**
 * A frontend's view of the schema: GraphQL Code Generator (`typescript` + `typescript-operations`) types
 * the README's GraphQL examples from the committed schema.gql, and a client file using those types and the
 * `ErrorCode` enum compiles strictly; a code that is not in the enum does not.
 */

const ROOT = resolve(__dirname, '..', '..');

/** The GraphQL documents of the README: `"query": "..."` of the curl examples and `query = \`...\`` of the JS ones. */
function readmeOperations(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```(?:bash|js)\n([\s\S]*?)```/g)].map((m) => m[1]);
  const operations: string[] = [];
  for (const block of blocks) {
    for (const m of block.matchAll(/"query": ("(?:[^"\\]|\\.)*")/g))
      operations.push(JSON.parse(m[1]) as string);
    for (const m of block.matchAll(/const query = `([^`]*)`/g)) operations.push(m[1]);
  }
  return operations;
}

/** Names the README's anonymous operations, as a frontend's own documents would be. */
function named(operation: string, index: number): string {
  return operation.replace(/^\s*(query|mutation|subscription)\s*(?=[({])/, `$1 ReadmeOperation${index + 1} `);
}

const CLIENT = `
import {
  ErrorCode,
  type ReadmeOperation1Query,
  type ReadmeOperation2Mutation,
  type ReadmeOperation4Mutation,
} from './graphql';

type GraphqlError = { message: string; extensions: { code: ErrorCode; retryAfterSeconds?: number } };

export function describeError(error: GraphqlError): string {
  switch (error.extensions.code) {
    case ErrorCode.RATE_LIMITED:
      return 'retry in ' + String(error.extensions.retryAfterSeconds ?? 1) + ' s';
    case ErrorCode.GRAPHQL_VALIDATION_FAILED:
    case ErrorCode.GRAPHQL_PARSE_FAILED:
      return 'the frontend sent a broken document';
    case ErrorCode.PERSISTED_QUERY_NOT_ALLOWED:
      return 'this build is not trusted';
    default:
      return error.message;
  }
}

export function environmentNames(data: ReadmeOperation1Query): string[] {
  return data.project.environments.results.map((environment) => environment.name);
}

export function runId(data: ReadmeOperation2Mutation): string {
  return data.executePipeline.pipelineExecutionId;
}

/** A re-run's launch: null when the gateway does not know it, so a frontend must say so. */
export function rerunOf(data: ReadmeOperation4Mutation): string | null {
  return data.rerunPipelineExecution.execution?.launch?.rerunOf ?? null;
}

export function cannotRerun(error: GraphqlError): boolean {
  return error.extensions.code === ErrorCode.LAUNCH_UNKNOWN;
}

/** The codes as the strings they are on the wire (a string enum's values as a union). */
type Code = \`\${ErrorCode}\`;
export const aCode: Code = 'PERSISTED_QUERY_NOT_FOUND';
// @ts-expect-error a code that is not in the schema's enum
export const notACode: Code = 'TEAPOT';
`;

describe('operations typed by GraphQL Code Generator from schema.gql', () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'graphql-codegen-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it("types the README's operations and compiles with the ErrorCode enum", async () => {
    const operations = readmeOperations();
    // The project query and the execute mutation (curl), and the live-status subscription (JS).
    expect(operations.length).toBeGreaterThanOrEqual(3);
    // The generator's core with its two plugins, as the codegen CLI runs them for one output file (the
    // CLI itself is not used: its URL and GitHub schema loaders pull packages that need Node.js >= 22).
    const schema = readFileSync(join(ROOT, 'schema.gql'), 'utf8');
    const generated = await codegen({
      filename: join(folder, 'graphql.ts'),
      schema: parse(schema),
      schemaAst: buildSchema(schema),
      documents: operations.map((operation, index) => ({
        location: `operation-${index + 1}.graphql`,
        document: parse(named(operation, index)),
      })),
      plugins: [{ typescript: {} }, { 'typescript-operations': {} }],
      pluginMap: { typescript: typescriptPlugin, 'typescript-operations': typescriptOperationsPlugin },
      config: { namingConvention: { enumValues: 'keep' }, scalars: { DateTime: 'string' } },
    });
    expect(generated).toContain('export enum ErrorCode');
    expect(generated).toContain("PERSISTED_QUERY_NOT_ALLOWED = 'PERSISTED_QUERY_NOT_ALLOWED'");
    writeFileSync(join(folder, 'graphql.ts'), generated);
    writeFileSync(join(folder, 'client.ts'), CLIENT);

    const program = ts.createProgram([join(folder, 'client.ts')], {
      strict: true,
      noEmit: true,
      noUnusedLocals: false,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(problems).toEqual([]);
  });
});
