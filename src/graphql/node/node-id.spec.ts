import { decodeNodeId, encodeNodeId, environmentNodeId, publishedPipelineNodeId } from './node-id';

describe('global node ids', () => {
  const project = '4a8a6162-702b-4efc-b2ec-c986e0bc95e4';

  it('round-trips names holding the separator, slashes, spaces and non-ASCII text', () => {
    for (const name of ['Dev', 'a:b:c', 'FOLDER/load orders.orch.yaml', 'Prüfung %2F', ':']) {
      expect(decodeNodeId(environmentNodeId(project, name))).toEqual({
        type: 'Environment',
        parts: [project, name],
      });
      expect(decodeNodeId(publishedPipelineNodeId(project, 'Dev:1', name))).toEqual({
        type: 'PublishedPipeline',
        parts: [project, 'Dev:1', name],
      });
    }
  });

  it('is opaque base64url, distinct per type for the same Maia parts', () => {
    const ids = [encodeNodeId('Project', project), environmentNodeId(project, 'x')];
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(new Set(ids).size).toBe(2);
  });

  it("takes a bare UUID as a project's or an execution's id, and the typed forms as one of them", () => {
    // Project.id and PipelineExecution.id are both Maia's bare UUIDs: the resolver tries a project first.
    expect(decodeNodeId(project)).toEqual({ type: 'ProjectOrPipelineExecution', parts: [project] });
    expect(decodeNodeId(encodeNodeId('Project', project))).toEqual({ type: 'Project', parts: [project] });
    expect(decodeNodeId(encodeNodeId('PipelineExecution', project))).toEqual({
      type: 'PipelineExecution',
      parts: [project],
    });
  });

  it('refuses typed project and execution ids that hold no UUID', () => {
    expect(decodeNodeId(encodeNodeId('PipelineExecution', 'not-a-uuid'))).toBeUndefined();
    expect(decodeNodeId(encodeNodeId('Project', 'Dev'))).toBeUndefined();
  });

  it('refuses what the gateway never issued', () => {
    const base64 = (text: string) => Buffer.from(text).toString('base64url');
    for (const id of [
      '',
      'not base64!',
      base64('Unknown:x'),
      base64('Environment:only-one-part'),
      base64('Environment:a:b:c'),
      base64('Environment::Dev'),
      base64('Environment:a:%E0%A4%A'),
      'x'.repeat(4096),
    ]) {
      expect({ id, decoded: decodeNodeId(id) }).toEqual({ id, decoded: undefined });
    }
  });
});
