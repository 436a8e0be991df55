import { BoundedLabelSet } from './bounded-label';
import { graphqlOperationName } from './http-metrics.hook';

describe('BoundedLabelSet', () => {
  it('keeps the first N distinct values and folds the rest into "other"', () => {
    const labels = new BoundedLabelSet(2);
    expect(labels.label('A')).toBe('A');
    expect(labels.label('B')).toBe('B');
    expect(labels.label('C')).toBe('other');
    expect(labels.label('A')).toBe('A');
    expect(labels.size).toBe(2);
  });

  it('refuses values that are not identifiers, without using up a slot', () => {
    const labels = new BoundedLabelSet(1);
    expect(labels.label('query { x }')).toBe('invalid');
    expect(labels.label('a'.repeat(65))).toBe('invalid');
    expect(labels.label('Ok_1')).toBe('Ok_1');
  });
});

describe('graphqlOperationName', () => {
  it('prefers operationName, then the first named operation, else anonymous', () => {
    expect(graphqlOperationName({ query: 'query A { x }', operationName: 'B' }, {})).toBe('B');
    expect(graphqlOperationName({ query: '# hi\nmutation RunIt($a: ID) { x }' }, {})).toBe('RunIt');
    expect(graphqlOperationName({ query: 'fragment F on P { id } query Named { x }' }, {})).toBe('Named');
    expect(graphqlOperationName({ query: '{ projects { total } }' }, {})).toBe('anonymous');
    expect(graphqlOperationName([{ query: 'query A { x }' }], {})).toBe('batch');
  });

  it('reads GET requests from the query string', () => {
    expect(graphqlOperationName(undefined, { query: 'query FromGet { x }' })).toBe('FromGet');
    expect(graphqlOperationName(undefined, undefined)).toBe('anonymous');
  });
});
