import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** One operation of a persisted-query manifest, as Apollo's `generate-persisted-query-manifest` writes it. */
export interface TrustedOperation {
  /** What a client sends as `extensions.persistedQuery.sha256Hash` (the SHA-256 of `body` by default). */
  id: string;
  body: string;
  name: string;
  type: 'query' | 'mutation' | 'subscription';
}

const manifestSchema = z.object({
  format: z.literal('apollo-persisted-query-manifest'),
  version: z.literal(1),
  operations: z.array(
    z.object({
      id: z.string().min(1).max(256),
      body: z.string().min(1),
      name: z.string(),
      type: z.enum(['query', 'mutation', 'subscription']),
    }),
  ),
});

/**
 * Reads the frontend build's persisted-query manifest (`{ format: 'apollo-persisted-query-manifest',
 * version: 1, operations: [{ id, body, name, type }] }`). Each problem is reported naming the member at
 * fault; the file's text is never echoed.
 */
export function readTrustedDocuments(file: string, report: (message: string) => void): TrustedOperation[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    report('cannot be read as JSON');
    return [];
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    for (const i of parsed.error.issues) report(`[${i.path.join('.')}] ${i.message}`);
    return [];
  }
  const ids = new Set<string>();
  for (const operation of parsed.data.operations) {
    if (ids.has(operation.id)) report(`the id ${operation.id.slice(0, 16)}… is listed twice`);
    ids.add(operation.id);
  }
  return parsed.data.operations;
}
