import { GraphQLScalarType } from 'graphql';

/**
 * Output-only JSON: for values Maia passes through without a documented shape (a step's `childPipeline`).
 * Never accepted as input, so no client can smuggle an unchecked object into a request.
 */
export const JSONScalar = new GraphQLScalarType<unknown, unknown>({
  name: 'JSON',
  description: 'Any JSON value, passed through from Maia as it was sent (output only).',
  serialize: (value: unknown) => value,
  parseValue: () => {
    throw new TypeError('JSON is an output-only scalar');
  },
  parseLiteral: () => {
    throw new TypeError('JSON is an output-only scalar');
  },
});
