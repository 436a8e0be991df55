import type { ApolloServerOptionsWithGateway, BaseContext } from '@apollo/server';
import { execute, GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

/** Apollo's gateway interface, as its `gateway` option names it (the interface package is Apollo's own dependency). */
type GatewayInterface = ApolloServerOptionsWithGateway<BaseContext>['gateway'];
type GatewayExecutor = NonNullable<Awaited<ReturnType<GatewayInterface['load']>>['executor']>;
type GatewayRequest = Parameters<GatewayExecutor>[0];
type SchemaListener = Parameters<GatewayInterface['onSchemaLoadOrUpdate']>[0];

/**
 * Executes GraphQL operations with graphql-jit: each operation of a document is compiled once into a
 * JavaScript function (resolver calls, argument coercion and result serialization unrolled for its
 * selections) and run for every request of the same document. Apollo Server 4 and later have no
 * `executor` option; their supported way in is the gateway interface (`new ApolloServer({ gateway })`):
 * Apollo still parses, validates (limits, trusted documents), runs every plugin and formats errors, and
 * hands only the execution to `load()`'s executor. The schema is Nest's own, handed over by `useSchema`
 * (from `transformSchema`), so this gateway "loads" nothing.
 *
 * A document graphql-jit cannot compile runs on graphql-js' `execute`. graphql-ws operations never come
 * here (they run graphql-js under their connection's context).
 */
export class CompiledExecutorGateway implements GatewayInterface {
  private schema?: GraphQLSchema;
  private readonly listeners = new Set<SchemaListener>();
  /** Compiled operations by document (Apollo keeps parsed documents, so a repeated query is one object). */
  private readonly compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery | null>>();

  /** Takes the schema Nest built (call from `transformSchema`); returns it unchanged. */
  useSchema(schema: GraphQLSchema): GraphQLSchema {
    this.schema = schema;
    return schema;
  }

  onSchemaLoadOrUpdate(callback: SchemaListener): () => void {
    this.listeners.add(callback);
    return () => this.listeners.delete(callback);
  }

  load(): Promise<{ executor: GatewayExecutor }> {
    const schema = this.schema;
    if (!schema)
      return Promise.reject(new Error('CompiledExecutorGateway: no schema (useSchema was not called)'));
    // Apollo takes the schema from this event (its "supergraph" text is not used without federation).
    for (const listener of this.listeners) listener({ apiSchema: schema, coreSupergraphSdl: '' });
    return Promise.resolve({ executor: (request) => this.execute(schema, request) });
  }

  stop(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }

  private async execute(schema: GraphQLSchema, request: GatewayRequest): Promise<ExecutionResult> {
    const { document, operationName, context: contextValue } = request;
    const variableValues = request.request.variables;
    const compiled = this.compiledFor(schema, document, operationName ?? undefined);
    const jsExecute = () => execute({ schema, document, contextValue, variableValues, operationName });
    if (!compiled) return jsExecute();
    const result = await compiled.query(undefined, contextValue, variableValues);
    if (!result.errors) return result;
    // No data at all: refused before any resolver ran (variables that do not coerce). graphql-js words and
    // locates those errors as Apollo expects (BAD_USER_INPUT), and nothing has happened yet to repeat.
    if (result.data === undefined) return jsExecute();
    return { ...result, errors: result.errors.map(asGraphqlJsError) };
  }

  private compiledFor(
    schema: GraphQLSchema,
    document: DocumentNode,
    operationName: string | undefined,
  ): CompiledQuery | null {
    let byName = this.compiled.get(document);
    if (!byName) {
      byName = new Map();
      this.compiled.set(document, byName);
    }
    const key = operationName ?? '';
    let compiled = byName.get(key);
    if (compiled === undefined) {
      const result = compileQuery(schema, document, operationName);
      compiled = isCompiledQuery(result) ? result : null;
      byName.set(key, compiled);
    }
    return compiled;
  }
}

/**
 * graphql-jit reports field errors with its own subclass of GraphQLError, whose `extensions` is undefined
 * when the cause has none: Apollo reads `extensions.code` of every error and answers a generic internal
 * error when that throws. The same error as graphql-js makes it instead, cause and locations included.
 */
function asGraphqlJsError(reported: GraphQLError): GraphQLError {
  if (reported.constructor === GraphQLError) return reported;
  // graphql-js' members under another class (graphql-jit/dist/error.js).
  const error = reported as Pick<
    GraphQLError,
    'message' | 'path' | 'originalError' | 'extensions' | 'locations'
  >;
  const converted = new GraphQLError(error.message, {
    path: error.path,
    originalError: error.originalError ?? undefined,
    extensions: error.extensions,
  });
  if (error.locations)
    Object.defineProperty(converted, 'locations', { value: error.locations, enumerable: true });
  return converted;
}
