import type { DocumentNode, OperationDefinitionNode } from 'graphql';
import type { CompiledQuery } from 'graphql-jit';

/**
 * A query or mutation document (with the operation its request named) that Apollo parsed, validated and let
 * run.
 */
export interface AcceptedDocument {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** Whether the whole-answer cache may keep its answer (see `isWholeAnswerCacheable`). */
  wholeAnswerCacheable: boolean;
  /** graphql-jit's compiled query, made on first use when that executor is chosen (null: not compilable). */
  compiled?: CompiledQuery | null;
  /** The operation the request is counted under (`graphqlOperationName`: the key determines it), once. */
  metricName?: string;
}

/**
 * The key of a request's document: its exact text and the operation it names (`null` and absent are the
 * same to graphql-js; the empty string is a name, which no operation has). The name is JSON-quoted, so no
 * name (a control character, a quote) can make the key of another name or of none.
 */
export function documentKey(query: string, operationName: string | null | undefined): string {
  return `${operationName === null || operationName === undefined ? '-' : JSON.stringify(operationName)}\u0000${query}`;
}

/**
 * The documents the GraphQL query lane may serve: those Apollo itself accepted in this process, keyed by
 * exact text and operation name, the most recently used `capacity` of them (a client that sends a new
 * document per request only makes Apollo serve it, as before).
 */
export class AcceptedDocuments {
  private readonly entries = new Map<string, AcceptedDocument>();

  constructor(private readonly capacity = 1_000) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): AcceptedDocument | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined && this.entries.size > 1) {
      // Most recently used last: the first entry is the one to drop.
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** The entry without counting it as used. */
  peek(key: string): AcceptedDocument | undefined {
    return this.entries.get(key);
  }

  add(key: string, entry: AcceptedDocument): void {
    if (this.entries.has(key)) {
      this.entries.delete(key);
    } else if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, entry);
  }

  clear(): void {
    this.entries.clear();
  }
}
