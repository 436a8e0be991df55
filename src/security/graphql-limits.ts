import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import {
  GraphQLError,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type Source,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import { ErrorCode, GatewayError } from '../common/errors';
import { type AuthConfig } from '../config/auth.config';

export type GraphqlLimits = AuthConfig['graphql'];

// graphql-js 16 words it "more that N tokens"; accept the corrected wording too.
const TOKEN_LIMIT_MESSAGE = /Document contains more tha[nt] \d+ tokens/;
const SUGGESTION = /\s*Did you mean .*\?/g;

/** The error every limit answers with: `extensions.code` QUERY_TOO_COMPLEX (400), before any resolver. */
export function queryTooComplex(detail: string): GraphQLError {
  const message = `Query too complex: ${detail.replace(/^Syntax Error:\s*/, '')}`;
  return new GraphQLError(message, {
    originalError: new GatewayError(ErrorCode.QUERY_TOO_COMPLEX, message),
    extensions: { code: ErrorCode.QUERY_TOO_COMPLEX },
  });
}

/** Reports an armor rejection on the validation context with our code (never throws mid-validation). */
const report = (ctx: ValidationContext | null, error: GraphQLError): void => {
  ctx?.reportError(queryTooComplex(error.message));
};

function armorOf(limits: GraphqlLimits): ReturnType<ApolloArmor['protect']> {
  const reject = { propagateOnRejection: false, onReject: [report] };
  return new ApolloArmor({
    maxDepth: { n: limits.maxDepth, ...reject },
    // Count every alias, `__typename` included: an alias of `__typename` repeated 10,000 times is a bomb too.
    maxAliases: { n: limits.maxAliases, allowList: [], ...reject },
    maxDirectives: { n: limits.maxDirectives, ...reject },
    costLimit: { maxCost: limits.maxCost, ...reject },
    // The token limit is graphql-js's own `parseOptions.maxTokens` (below): armor's version throws from a
    // plugin hook, which Apollo 5 answers with a 500.
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: !limits.fieldSuggestions, mask: '' },
  }).protect();
}

/** The armor's validation rules (depth, aliases, directives, cost), reporting QUERY_TOO_COMPLEX. */
export function graphqlLimitRules(limits: GraphqlLimits): ValidationRule[] {
  return armorOf(limits).validationRules;
}

/**
 * Apollo answers validation and parse errors with its own codes (GRAPHQL_VALIDATION_FAILED,
 * GRAPHQL_PARSE_FAILED). This plugin puts QUERY_TOO_COMPLEX back on the errors our limits raised, before
 * `formatError` runs, and strips "Did you mean" hints when suggestions are off.
 */
export function graphqlLimitsPlugin(limits: GraphqlLimits): ApolloServerPlugin<BaseContext> {
  // One listener for every request (no hooks object allocated per request).
  const listener: GraphQLRequestListener<BaseContext> = {
    async didEncounterErrors({ errors }) {
      for (const error of errors) {
        const extensions = error.extensions as Record<string, unknown>;
        const original = error.originalError;
        if (GatewayError.is(original, ErrorCode.QUERY_TOO_COMPLEX)) {
          extensions.code = ErrorCode.QUERY_TOO_COMPLEX;
        } else if (TOKEN_LIMIT_MESSAGE.test(error.message)) {
          error.message = queryTooComplex(error.message).message;
          extensions.code = ErrorCode.QUERY_TOO_COMPLEX;
        }
        if (!limits.fieldSuggestions) error.message = error.message.replace(SUGGESTION, '');
      }
    },
  };
  return {
    async requestDidStart() {
      return listener;
    },
  };
}

/**
 * Everything the Apollo server options need from this module, to spread into the GraphQL module setup:
 * limits checked before any resolver runs, batching off, CSRF prevention on, and the graphql-js token limit
 * applied while parsing. (Persisted queries are `GraphqlSecurity`'s: they depend on Redis and the
 * trusted documents.)
 */
export function apolloSecurityOptions(limits: GraphqlLimits) {
  const armor = armorOf(limits);
  return {
    validationRules: armor.validationRules,
    plugins: [...armor.plugins, graphqlLimitsPlugin(limits)],
    parseOptions: { maxTokens: limits.maxTokens },
    allowBatchedHttpRequests: false as const,
    csrfPrevention: true as const,
    includeStacktraceInErrorResponses: false as const,
    hideSchemaDetailsFromClientErrors: !limits.fieldSuggestions,
  };
}

/** A graphql-js validation error with Apollo's code for it, the original kept for its message and nodes. */
function validationFailed(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    originalError: error.originalError,
    extensions: { ...error.extensions, code: ErrorCode.GRAPHQL_VALIDATION_FAILED },
  });
}

/** Parses with the token limit; a limit or syntax error comes back as errors, never thrown. */
export function parseLimited(source: unknown, limits: GraphqlLimits): DocumentNode | readonly GraphQLError[] {
  if (typeof source !== 'string' || source.trim() === '') {
    return [
      new GraphQLError('A query string is required', { extensions: { code: ErrorCode.BAD_USER_INPUT } }),
    ];
  }
  try {
    return parse(source, { maxTokens: limits.maxTokens });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (TOKEN_LIMIT_MESSAGE.test(message)) return [queryTooComplex(message)];
    return [new GraphQLError(message, { extensions: { code: ErrorCode.GRAPHQL_PARSE_FAILED } })];
  }
}

/**
 * Sources that already passed a check, so a hot document (the same query or subscription sent again and
 * again) is checked once, not on every request: a check is a pure function of the source, the schema and
 * the limits, all fixed for the life of the process. Only passes are remembered (a rejected document is
 * checked again each time, so nobody fills memory with bombs); bounded in entries and source length, the
 * oldest forgotten first. Measured: the precheck was ~10% of a cached GraphQL read's CPU and graphql-ws
 * validation ~28% of 5 000 subscribers joining (bench/RESULTS.md).
 */
export class PassedDocuments {
  private readonly sources = new Set<string>();

  constructor(
    private readonly maxEntries = 500,
    private readonly maxSourceChars = 20_000,
  ) {}

  has(source: string): boolean {
    return this.sources.has(source);
  }

  add(source: string): void {
    if (source.length > this.maxSourceChars || this.sources.has(source)) return;
    if (this.sources.size >= this.maxEntries) {
      const oldest = this.sources.values().next();
      if (!oldest.done) this.sources.delete(oldest.value);
    }
    this.sources.add(source);
  }

  get size(): number {
    return this.sources.size;
  }
}

/**
 * graphql-ws options applying the same limits to subscriptions: `onSubscribe` refuses documents over the
 * token limit (or unparsable) with an error message instead of closing the socket, and `validate` runs
 * graphql-js's rules plus the armor's.
 */
export function graphqlWsLimits(limits: GraphqlLimits) {
  const limitRules = graphqlLimitRules(limits);
  let passed = new PassedDocuments();
  let passedSchema: GraphQLSchema | undefined;
  return {
    onSubscribe(_ctx: unknown, _id: string, payload: SubscribePayload): readonly GraphQLError[] | void {
      const parsed = parseLimited(payload.query, limits);
      if (Array.isArray(parsed)) return parsed as readonly GraphQLError[];
      return undefined;
    },
    validate(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] {
      if (schema !== passedSchema) {
        passed = new PassedDocuments();
        passedSchema = schema;
      }
      const source = document.loc?.source.body;
      if (source !== undefined && passed.has(source)) return [];
      // The cheap limits first: a bomb never reaches graphql-js's quadratic rules (overlapping fields).
      const tooComplex = validate(schema, document, limitRules);
      if (tooComplex.length > 0) return tooComplex;
      const errors = validate(schema, document, specifiedRules);
      if (errors.length === 0 && source !== undefined) passed.add(source);
      // Coded as Apollo codes them over HTTP (graphql-ws leaves validation errors without a code).
      return errors.map((error) => validationFailed(error));
    },
    /** graphql-ws would re-parse after onSubscribe; keep that parse limited as well. */
    parse(source: string | Source): DocumentNode {
      return parse(source, { maxTokens: limits.maxTokens });
    },
  };
}

/**
 * The limits alone, on a source that has not been parsed yet: the token limit while parsing, then the
 * armor's rules (cheap, linear). Run before Apollo's own validation, a bomb is refused without ever
 * reaching graphql-js's full rule set, whose overlapping-fields check is quadratic in repeated fields.
 * Syntax errors are left to Apollo (an empty answer), so its messages stay as they are.
 */
export function precheckDocument(
  schema: GraphQLSchema,
  source: string,
  limits: GraphqlLimits,
  rules: readonly ValidationRule[] = graphqlLimitRules(limits),
): readonly GraphQLError[] {
  const parsed = parseLimited(source, limits);
  if (Array.isArray(parsed)) {
    const errors = parsed as readonly GraphQLError[];
    return errors.filter((e) => e.extensions.code === ErrorCode.QUERY_TOO_COMPLEX);
  }
  return validate(schema, parsed as DocumentNode, rules);
}

/** Parse and validate a document the way the gateway does (for tests and tools). */
export function checkDocument(
  schema: GraphQLSchema,
  source: string,
  limits: GraphqlLimits,
): readonly GraphQLError[] {
  const parsed = parseLimited(source, limits);
  if (Array.isArray(parsed)) return parsed as readonly GraphQLError[];
  return validate(schema, parsed as DocumentNode, [...specifiedRules, ...graphqlLimitRules(limits)]).map(
    (error) => (error.extensions.code === undefined ? validationFailed(error) : error),
  );
}
