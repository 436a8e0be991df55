import { answerJson, immutableAnswer } from './immutable-answer';

describe('immutable answers', () => {
  it('encodes an immutable answer once, as JSON.stringify does, and freezes it deeply', () => {
    const answer = immutableAnswer({ page: 0, results: [{ id: 'a', tags: ['x'] }] });
    expect(Object.isFrozen(answer.results[0].tags)).toBe(true);
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      const first = answerJson(answer);
      const second = answerJson(answer);
      expect(first).toBe('{"page":0,"results":[{"id":"a","tags":["x"]}]}');
      expect(second).toBe(first);
      expect(stringify).toHaveBeenCalledTimes(1);
    } finally {
      stringify.mockRestore();
    }
  });

  it('encodes every other answer each time: a mutable or merely frozen one may differ from call to call', () => {
    const mutable = { n: 1 };
    expect(answerJson(mutable)).toBe('{"n":1}');
    mutable.n = 2;
    expect(answerJson(mutable)).toBe('{"n":2}');
    // Frozen at the top only: its members can still change, so it is not remembered either.
    const inner = { n: 1 };
    const shallow = Object.freeze({ inner });
    expect(answerJson(shallow)).toBe('{"inner":{"n":1}}');
    inner.n = 2;
    expect(answerJson(shallow)).toBe('{"inner":{"n":2}}');
    expect(answerJson('text')).toBe('"text"');
    expect(answerJson(null)).toBe('null');
  });
});
