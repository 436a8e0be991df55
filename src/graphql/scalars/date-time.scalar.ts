import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

// Full ISO-8601 date-time with a zone (Z or ±hh:mm), optional fractional seconds.
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

function parse(value: unknown): string {
  if (typeof value !== 'string' || !ISO_DATE_TIME.test(value) || Number.isNaN(Date.parse(value))) {
    throw new GraphQLError('DateTime must be an ISO-8601 date-time with a zone, e.g. 2026-01-31T09:00:00Z', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  return new Date(value).toISOString();
}

/**
 * ISO-8601 date-times. Outputs are UTC with milliseconds (`2026-01-31T09:00:00.000Z`); inputs accept any
 * zone and are normalised to UTC. Values travel as strings inside the gateway, since Maia's are strings.
 */
export const DateTimeScalar = new GraphQLScalarType<string, string>({
  name: 'DateTime',
  description:
    'An ISO-8601 date-time. Returned in UTC with milliseconds (2026-01-31T09:00:00.000Z); accepted with any zone offset.',
  serialize(value: unknown): string {
    if (value instanceof Date) return value.toISOString();
    if (typeof value === 'string') return value;
    throw new GraphQLError('DateTime cannot represent a non-date value');
  },
  parseValue: parse,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) {
      throw new GraphQLError('DateTime must be a string', { extensions: { code: 'BAD_USER_INPUT' } });
    }
    return parse(ast.value);
  },
});
