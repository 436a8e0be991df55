import { BoundedLabelSet } from './bounded-label';
import { graphqlOperationName } from './http-metrics.hook';
import { maiaEndpointName } from '../maia/maia-endpoint';

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

describe('maiaEndpointName', () => {
  it('names every Maia route as the emulator does, ids never included', () => {
    const p = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';
    const e = 'fd05a6c4-b3e1-4441-86a2-044d5092731d';
    expect(maiaEndpointName('GET', '/v1/projects?page=0&size=25')).toBe('listProjects');
    expect(maiaEndpointName('GET', `/v1/projects/${p}/environments`)).toBe('listEnvironments');
    expect(maiaEndpointName('GET', `/v1/projects/${p}/published-pipelines?environmentName=Dev`)).toBe(
      'listPublishedPipelines',
    );
    expect(maiaEndpointName('POST', `/v1/projects/${p}/pipeline-executions`)).toBe('executePipeline');
    expect(maiaEndpointName('GET', `/v1/projects/${p}/pipeline-executions/${e}`)).toBe('getExecution');
    expect(maiaEndpointName('patch', `/v1/projects/${p}/pipeline-executions/${e}`)).toBe('cancelExecution');
    expect(maiaEndpointName('GET', `/v1/projects/${p}/pipeline-executions/${e}/status`)).toBe(
      'getExecutionStatus',
    );
    expect(maiaEndpointName('GET', `/v1/projects/${p}/pipeline-executions/${e}/steps`)).toBe('listSteps');
    expect(maiaEndpointName('GET', '/v1/pipeline-executions?limit=25')).toBe('listExecutions');
    expect(maiaEndpointName('PUT', '/v1/agents/a1/allowlist')).toBe('putAllowlist');
    expect(maiaEndpointName('DELETE', `/v1/projects/${p}`)).toBe('other');
  });
});
