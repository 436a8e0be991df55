import {
  createSourceEventStream,
  execute,
  getNamedType,
  getOperationAST,
  isObjectType,
  isLeafType,
  Kind,
  OperationTypeNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type SelectionSetNode,
} from 'graphql';
import { isNestPropertyReader } from './nest-property-reader';

/**
 * The field extension a subscription root field declares when its `resolve` depends on the source event
 * alone (not on the caller, the context or the connection): `@Extensions({ [SHARED_FAN_OUT]: true })`.
 */
export const SHARED_FAN_OUT = 'sharedFanOut';

function readsTheSourceOnly(resolve: ((...args: never[]) => unknown) | undefined): boolean {
  return resolve === undefined || isNestPropertyReader(resolve);
}

/** Documents remembered as shareable or not, by source text (bounded; the oldest forgotten first). */
const MAX_REMEMBERED_DOCUMENTS = 1000;

type Result = ExecutionResult | Promise<ExecutionResult>;

/**
 * graphql-js's `subscribe`, except that subscribers of one event who sent the same document with the same
 * variables share one execution of it per event, instead of one each. With thousands of subscribers on
 * one execution, executing the selection per subscriber was most of the terminal event's fan-out.
 *
 * Shared only when nothing in the result can differ between those subscribers: the root field declares
 * `SHARED_FAN_OUT` (its `resolve` reads the event alone) and every field below it only reads its source's
 * property (graphql-js's default resolver, or Nest's equivalent), never a resolver of ours, which could
 * read the caller or call upstream. The caller's
 * rights are checked per subscriber when the stream is created (the root field's guards), as before; any
 * other document executes per subscriber, as graphql-js does.
 *
 * Sharing is by identity of the source event: the watch hands every subscriber of a topic the same event
 * object (see `toWatchEvent`), and the cache of an event's results lives as long as that object.
 */
export class FanOutSubscriber {
  private readonly shareable = new Map<string, boolean>();
  private readonly results = new WeakMap<object, Map<string, Result>>();

  readonly subscribe = async (
    args: ExecutionArgs,
  ): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> => {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    const key = this.shareKey(args);
    const run = (payload: unknown): Result => execute({ ...args, rootValue: payload });
    return mapEvents(source, key === null ? run : (payload) => this.shared(payload, key, run));
  };

  /** How many documents are remembered (tests). */
  get rememberedDocuments(): number {
    return this.shareable.size;
  }

  private shared(payload: unknown, key: string, run: (payload: unknown) => Result): Result {
    if (typeof payload !== 'object' || payload === null) return run(payload);
    let byKey = this.results.get(payload);
    if (!byKey) {
      byKey = new Map();
      this.results.set(payload, byKey);
    }
    let result = byKey.get(key);
    if (result === undefined) {
      result = run(payload);
      byKey.set(key, result);
    }
    return result;
  }

  /** The key subscribers share results under, or null when this document's results are per subscriber. */
  private shareKey(args: ExecutionArgs): string | null {
    const source = args.document.loc?.source.body;
    if (source === undefined) return null;
    // The verdict is the operation's, not the document's: one document may hold a shareable operation and
    // one whose fields have resolvers of their own.
    const operation = `${args.operationName ?? ''}\u0000${source}`;
    let shareable = this.shareable.get(operation);
    if (shareable === undefined) {
      shareable = isShareable(args);
      if (this.shareable.size >= MAX_REMEMBERED_DOCUMENTS) {
        const oldest = this.shareable.keys().next().value as string;
        this.shareable.delete(oldest);
      }
      this.shareable.set(operation, shareable);
    }
    if (!shareable) return null;
    return `${JSON.stringify(args.variableValues ?? {})}\u0000${operation}`;
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

/** The source events, each executed by `run`; `return()` reaches the source at once. */
function mapEvents(
  source: AsyncIterable<unknown>,
  run: (payload: unknown) => Result,
): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  const mapped: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      const item = await iterator.next();
      if (item.done) return { value: undefined, done: true };
      return { value: await run(item.value), done: false };
    },
    async return() {
      await iterator.return?.();
      return { value: undefined, done: true };
    },
    async throw(error?: unknown) {
      await iterator.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return mapped;
    },
  };
  return mapped;
}

/** True when the operation's result depends on the source event, the document and its variables alone. */
export function isShareable(args: Pick<ExecutionArgs, 'schema' | 'document' | 'operationName'>): boolean {
  const { schema, document } = args;
  const operation = getOperationAST(document, args.operationName);
  const root = schema.getSubscriptionType();
  if (!operation || operation.operation !== OperationTypeNode.SUBSCRIPTION || !root) return false;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  return selectionShareable(fragments, operation.selectionSet, root, true, new Set());
}

function selectionShareable(
  fragments: Map<string, FragmentDefinitionNode>,
  selectionSet: SelectionSetNode,
  parent: GraphQLObjectType,
  atRoot: boolean,
  visiting: Set<string>,
): boolean {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      const name = selection.name.value;
      if (name === '__typename') continue;
      const field = parent.getFields()[name];
      if (!field) return false;
      if (atRoot ? field.extensions?.[SHARED_FAN_OUT] !== true : !readsTheSourceOnly(field.resolve))
        return false;
      const type = getNamedType(field.type);
      if (isLeafType(type)) continue;
      // Interfaces and unions resolve their type with a function of ours: per subscriber.
      if (!isObjectType(type) || !selection.selectionSet) return false;
      if (!selectionShareable(fragments, selection.selectionSet, type, false, visiting)) return false;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const on = selection.typeCondition?.name.value;
      if (on !== undefined && on !== parent.name) return false;
      if (!selectionShareable(fragments, selection.selectionSet, parent, atRoot, visiting)) return false;
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      if (!fragment || visiting.has(name) || fragment.typeCondition.name.value !== parent.name) return false;
      visiting.add(name);
      const ok = selectionShareable(fragments, fragment.selectionSet, parent, atRoot, visiting);
      visiting.delete(name);
      if (!ok) return false;
    }
  }
  return true;
}
