import { parse, type OperationDefinitionNode } from 'graphql';
import { AcceptedDocuments, documentKey, type AcceptedDocument } from './accepted-documents';
import { laneBodyOf } from './query-lane';

function entry(query: string): AcceptedDocument {
  const document = parse(query);
  return {
    document,
    operation: document.definitions[0] as OperationDefinitionNode,
    wholeAnswerCacheable: false,
  };
}

describe('AcceptedDocuments', () => {
  it('keeps the most recently used documents up to its capacity', () => {
    const docs = new AcceptedDocuments(2);
    docs.add('a', entry('{ a }'));
    docs.add('b', entry('{ b }'));
    expect(docs.get('a')).toBeDefined(); // a is now the most recent
    docs.add('c', entry('{ c }'));
    expect(docs.get('b')).toBeUndefined();
    expect(docs.get('a')).toBeDefined();
    expect(docs.get('c')).toBeDefined();
    expect(docs.size).toBe(2);
  });

  it('keys by exact text and operation name; null and absent names are one, the empty name another', () => {
    expect(documentKey('{ a }', null)).toBe(documentKey('{ a }', undefined));
    expect(documentKey('{ a }', '')).not.toBe(documentKey('{ a }', undefined));
    expect(documentKey('{ a }', 'A')).not.toBe(documentKey('{ a } ', 'A'));
    // No name makes the key of no name, or of another name with the text shifted.
    for (const name of ['\u0001', '-', '"-"', 'A\u0000{ a }']) {
      expect(documentKey('{ a }', name)).not.toBe(documentKey('{ a }', undefined));
    }
    expect(documentKey('{ a }', 'A\u0000{ a }')).not.toBe(documentKey('{ a }\u0000{ a }', 'A'));
  });
});

describe('laneBodyOf', () => {
  it('reads the plain shape {query, variables?, operationName?}', () => {
    expect(laneBodyOf('{"query":"{ a }"}')).toEqual({ query: '{ a }' });
    expect(laneBodyOf('{"query":"{ a }","variables":null,"operationName":null}')).toEqual({
      query: '{ a }',
      variables: null,
      operationName: null,
    });
    expect(laneBodyOf('{"query":"{ a }","variables":{"x":1},"operationName":"A"}')).toBeDefined();
  });

  it.each([
    ['not JSON', '{"query":'],
    ['a batch', '[{"query":"{ a }"}]'],
    ['extensions', '{"query":"{ a }","extensions":{}}'],
    ['no query', '{"variables":{}}'],
    ['an empty query', '{"query":""}'],
    ['variables not an object', '{"query":"{ a }","variables":[1]}'],
    ['an operation name not a string', '{"query":"{ a }","operationName":5}'],
    ['a prototype key', '{"query":"{ a }","variables":{"__proto__":{"x":1}}}'],
    ['a constructor key', '{"query":"{ a }","variables":{"constructor":{"prototype":{}}}}'],
    ['a byte-order mark', '\ufeff{"query":"{ a }"}'],
  ])('leaves %s to Apollo', (_name, text) => {
    expect(laneBodyOf(text)).toBeUndefined();
  });
});
