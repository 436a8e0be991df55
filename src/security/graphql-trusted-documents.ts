import { createHash } from 'node:crypto';
import type { KeyValueCache } from '@apollo/utils.keyvaluecache';
import { GraphQLError } from 'graphql';
import { ErrorCode } from '../common/errors';
import type { TrustedOperation } from '../config/trusted-documents';

/** The SHA-256 of a document as Apollo's persisted queries compute it (hex of the UTF-8 text). */
export function documentHash(source: string): string {
  return createHash('sha256').update(source, 'utf8').digest('hex');
}

/** What a GraphQL request carries that the allow-list looks at (HTTP body, GET parameters, graphql-ws). */
export interface DocumentRequest {
  query?: unknown;
  extensions?: unknown;
}

export function notAllowed(): GraphQLError {
  return new GraphQLError('This document is not on the list of trusted documents', {
    extensions: { code: ErrorCode.PERSISTED_QUERY_NOT_ALLOWED, http: { status: 400 } },
  });
}

/** `extensions.persistedQuery.sha256Hash`, from an object or (GET) its JSON text. */
function persistedHashOf(extensions: unknown): string | undefined {
  let value = extensions;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  const persisted = (value as { persistedQuery?: { sha256Hash?: unknown } } | null | undefined)
    ?.persistedQuery;
  return typeof persisted?.sha256Hash === 'string' ? persisted.sha256Hash : undefined;
}

/**
 * The allow-list of a production frontend: the operations of its persisted-query manifest. A request runs
 * when its full document is one of them (compared by SHA-256 of the text) or when it carries only the id
 * of one (Apollo Client's persisted-query link); anything else is refused before parsing, so no resolver
 * runs and nothing reaches Maia. As Apollo's persisted-query store it answers ids from the manifest and
 * registers nothing.
 */
export class TrustedDocuments implements KeyValueCache<string> {
  private readonly bodiesById = new Map<string, string>();
  private readonly bodyHashes = new Set<string>();

  constructor(operations: readonly TrustedOperation[]) {
    for (const operation of operations) {
      this.bodiesById.set(operation.id, operation.body);
      this.bodyHashes.add(documentHash(operation.body));
    }
  }

  get size(): number {
    return this.bodiesById.size;
  }

  /** The refusal of a request whose document is not trusted; undefined when it may run. */
  check(request: DocumentRequest): GraphQLError | undefined {
    if (typeof request.query === 'string' && request.query !== '') {
      return this.bodyHashes.has(documentHash(request.query)) ? undefined : notAllowed();
    }
    const id = persistedHashOf(request.extensions);
    if (id !== undefined) return this.bodiesById.has(id) ? undefined : notAllowed();
    // Neither a document nor a hash: Apollo answers that itself (BAD_USER_INPUT), nothing runs.
    return undefined;
  }

  /** The manifest's body of an id (Apollo looks ids up with its `apq:` prefix). */
  async get(key: string): Promise<string | undefined> {
    return this.bodiesById.get(key.startsWith('apq:') ? key.slice(4) : key);
  }

  /** Registration is the frontend build's job: nothing is added at run time. */
  async set(): Promise<void> {}

  async delete(): Promise<boolean> {
    return false;
  }
}
