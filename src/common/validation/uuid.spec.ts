import { lowerCaseUuids } from './uuid';

describe('lowerCaseUuids', () => {
  const upper = '4A8A6162-702B-4EFC-B2EC-C986E0BC95E4';
  const lower = upper.toLowerCase();

  it('lowers the UUIDs of id arguments, inputs and filters, and nothing else', () => {
    expect(lowerCaseUuids(upper, 'id')).toBe(lower);
    expect(lowerCaseUuids([upper, 'RW52aXJvbm1lbnQ'], 'ids')).toEqual([lower, 'RW52aXJvbm1lbnQ']);
    const args = {
      input: {
        projectId: upper,
        executionId: upper,
        agentId: upper,
        pipelineName: upper,
        scalarVariables: { projectId: upper },
      },
      filter: { projectId: upper, pipelineName: 'Pipeline 1' },
      name: upper,
    };
    expect(lowerCaseUuids(args)).toEqual({
      input: {
        projectId: lower,
        executionId: lower,
        agentId: lower,
        pipelineName: upper,
        scalarVariables: { projectId: upper },
      },
      filter: { projectId: lower, pipelineName: 'Pipeline 1' },
      name: upper,
    });
  });

  it('leaves what is not a UUID as given (validation refuses it elsewhere)', () => {
    expect(lowerCaseUuids('NOT-A-UUID', 'projectId')).toBe('NOT-A-UUID');
    expect(lowerCaseUuids(upper, 'environmentName')).toBe(upper);
    expect(lowerCaseUuids(undefined, 'projectId')).toBeUndefined();
  });
});
