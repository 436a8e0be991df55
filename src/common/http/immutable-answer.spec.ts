import { answerByteLength, answerJson, immutableAnswer } from './immutable-answer';

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

  it("counts an immutable answer's UTF-8 bytes once, with its JSON; every other answer's each time", () => {
    const answer = immutableAnswer({ name: 'Café ☕' });
    const byteLength = jest.spyOn(Buffer, 'byteLength');
    try {
      const json = answerJson(answer);
      expect(answerByteLength(answer, json)).toBe(Buffer.from(json, 'utf8').length);
      expect(answerByteLength(answer, json)).toBe(json.length + 3); // é is 2 bytes, ☕ is 3
      expect(byteLength).toHaveBeenCalledTimes(1); // when the JSON was made, not per call
      byteLength.mockClear();
      const mutable = { name: 'Café' };
      expect(answerByteLength(mutable, answerJson(mutable))).toBe(16);
      expect(answerByteLength(mutable, answerJson(mutable))).toBe(16);
      expect(byteLength).toHaveBeenCalledTimes(2);
      // Another text than the answer's own JSON is counted, not taken from the answer.
      expect(answerByteLength(answer, '"é"')).toBe(4);
      // A problem body (no answer) is counted as it is.
      expect(answerByteLength(undefined, '{"status":500}')).toBe(14);
    } finally {
      byteLength.mockRestore();
    }
  });
});
