import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from '@apollo/server';
import {
  BREAK,
  GraphQLObjectType,
  Kind,
  OperationTypeNode,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { RequestContext } from '../common/request-context';
import { releaseWaitersOf } from './flight-release';
import { WHOLE_ANSWER_CACHEABLE } from './whole-answer-cacheable.decorator';

type Field = GraphQLField<unknown, unknown>;

/** The fields a whole answer may be built from: declared `@WholeAnswerCacheable()`, or of a declared type. */
export function cacheableFieldsOf(schema: GraphQLSchema): ReadonlySet<Field> {
  const fields = new Set<Field>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!(type instanceof GraphQLObjectType) || type.name.startsWith('__')) continue;
    const typeDeclared = type.extensions[WHOLE_ANSWER_CACHEABLE] === true;
    for (const field of Object.values(type.getFields())) {
      if (typeDeclared || field.extensions[WHOLE_ANSWER_CACHEABLE] === true) fields.add(field);
    }
  }
  return fields;
}

/**
 * Is this operation a query made only of cacheable fields (`__typename` aside)? Fragments of the
 * document are checked too, used or not (not caching is the safe side).
 */
export function isWholeAnswerCacheable(
  cacheable: ReadonlySet<Field>,
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): boolean {
  if (operation.operation !== OperationTypeNode.QUERY) return false;
  const typeInfo = new TypeInfo(schema);
  let result = true;
  const visitor = visitWithTypeInfo(typeInfo, {
    Field(node) {
      if (node.name.value === '__typename') return undefined;
      const field = typeInfo.getFieldDef();
      if (field && cacheable.has(field)) return undefined;
      result = false;
      return BREAK;
    },
  });
  visit(operation, visitor);
  for (const definition of document.definitions) {
    if (result && definition.kind === Kind.FRAGMENT_DEFINITION) visit(definition, visitor);
  }
  return result;
}

/**
 * Tells the hot-read cache, on the request's `RequestContext`, that a GraphQL answer is of a declared
 * read and whether its execution result carries errors: decided from the resolved operation and the
 * result, never from the response text. Apollo keeps parsed documents, so each operation is judged once.
 */
export function wholeAnswerPlugin(): ApolloServerPlugin {
  const verdicts = new WeakMap<OperationDefinitionNode, boolean>();
  let cacheable: ReadonlySet<Field> = new Set();
  // One listener for every request (no hooks object allocated per request).
  const declaredRead = (
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
  ) => {
    let declared = verdicts.get(operation);
    if (declared === undefined) {
      declared = isWholeAnswerCacheable(cacheable, schema, document, operation);
      verdicts.set(operation, declared);
    }
    return declared;
  };
  const listener: GraphQLRequestListener<BaseContext> = {
    // Identical requests waiting for this one's answer (hot-read-cache.ts, `Flight`) go their own way as
    // soon as it is known not to be a declared read: nobody waits behind a mutation or an execution.
    async didResolveOperation({ schema, document, operation }) {
      const ctx = RequestContext.current();
      if (ctx && (!operation || !declaredRead(schema, document, operation))) releaseWaitersOf(ctx);
    },
    async willSendResponse({ schema, document, operation, response }) {
      const ctx = RequestContext.current();
      if (!ctx || !document || !operation || response.body.kind !== 'single') return;
      if (declaredRead(schema, document, operation))
        ctx.wholeAnswer = { clean: response.body.singleResult.errors === undefined };
    },
  };
  return {
    async serverWillStart({ schema }) {
      cacheable = cacheableFieldsOf(schema);
    },
    async requestDidStart() {
      return listener;
    },
  };
}
