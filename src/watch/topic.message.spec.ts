import { decodeTopicMessage, encodeTopicMessage, type TopicMessage } from './topic.message';
import { type StoredEvent } from './watch.types';

const event: StoredEvent = {
  sequence: 1_765_000_000_001,
  at: '2026-12-05T02:00:00.000Z',
  kind: 'CHANGED',
  execution: { pipelineExecutionId: 'e1', status: 'RUNNING' } as StoredEvent['execution'],
};

describe('topic messages', () => {
  it('round-trips every message in words', () => {
    const messages: TopicMessage[] = [
      { type: 'event', event },
      { type: 'error', code: 'NOT_FOUND', message: 'Pipeline execution not found' },
      { type: 'nudge' },
      { type: 'released' },
    ];
    for (const message of messages) expect(decodeTopicMessage(encodeTopicMessage(message))).toEqual(message);
    expect(JSON.parse(encodeTopicMessage({ type: 'event', event }))).toMatchObject({
      type: 'event',
      event: { sequence: event.sequence },
    });
  });

  it('reads the letter-keyed messages replicas of the previous version publish during a rolling deploy', () => {
    const { sequence, ...rest } = event;
    expect(decodeTopicMessage(JSON.stringify({ t: 'event', e: { seq: sequence, ...rest } }))).toEqual({
      type: 'event',
      event,
    });
    expect(decodeTopicMessage('{"t":"error","code":"NOT_FOUND","message":"gone"}')).toEqual({
      type: 'error',
      code: 'NOT_FOUND',
      message: 'gone',
    });
    expect(decodeTopicMessage('{"t":"nudge"}')).toEqual({ type: 'nudge' });
    expect(decodeTopicMessage('{"t":"released"}')).toEqual({ type: 'released' });
  });

  it('drops what is not a message', () => {
    for (const raw of [
      'not json',
      'null',
      '{"type":"shout"}',
      '{"type":"event","event":{"sequence":"1"}}',
      '{"t":"event","e":{"seq":1,"at":"x","kind":"NOPE","execution":{}}}',
      '{"type":"error","code":1}',
    ]) {
      expect(decodeTopicMessage(raw)).toBeNull();
    }
  });
});
