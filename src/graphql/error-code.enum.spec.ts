import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, type GraphQLEnumType } from 'graphql';
import { ErrorCode, errorCodeMeanings } from '../common/errors';

const root = join(__dirname, '..', '..');

describe('the ErrorCode enum of the schema', () => {
  it('is in the committed schema.gql with every code of the one list, each described', () => {
    const schema = buildSchema(readFileSync(join(root, 'schema.gql'), 'utf8'));
    const enumType = schema.getType('ErrorCode') as GraphQLEnumType;
    expect(enumType.getValues().map((v) => v.name)).toEqual(Object.values(ErrorCode).sort());
    for (const value of enumType.getValues()) {
      expect(value.description).toBe(errorCodeMeanings[value.name as ErrorCode]);
    }
    expect(enumType.description).toContain('`retryAfterSeconds`');
    expect(enumType.description).toContain('`stale`');
  });
});
