/**
 * Global object ids (Relay's convention): base64url of `Type:part:part...`, each part URI-encoded so a name
 * holding ":" cannot shift the others. Opaque to clients; only `node(id:)` and this file read them.
 */
export type NodeType = 'Project' | 'Environment' | 'PublishedPipeline' | 'PipelineExecution';

export const NODE_TYPES: readonly NodeType[] = [
  'Project',
  'Environment',
  'PublishedPipeline',
  'PipelineExecution',
];

/** How many Maia parts each type's id holds. */
const PARTS: Record<NodeType, number> = {
  Project: 1,
  Environment: 2,
  PublishedPipeline: 3,
  PipelineExecution: 1,
};

/** The id a Node type's `id` field holds as it is: Maia's own UUID. */
const UUID_TYPES: ReadonlySet<NodeType> = new Set(['Project', 'PipelineExecution']);

export type DecodedNodeId =
  | { type: NodeType; parts: string[] }
  /**
   * A bare UUID: `Project.id` or `PipelineExecution.id`, which keep Maia's ids (ADR 0018). Nothing in it
   * says which: `node` tries a project first, then an execution (ADR 0019).
   */
  | { type: 'ProjectOrPipelineExecution'; parts: [string] };

export function encodeNodeId(type: NodeType, ...parts: string[]): string {
  const text = [type, ...parts.map((part) => encodeURIComponent(part))].join(':');
  return Buffer.from(text, 'utf8').toString('base64url');
}

export const environmentNodeId = (projectId: string, environmentName: string): string =>
  encodeNodeId('Environment', projectId, environmentName);

export const publishedPipelineNodeId = (
  projectId: string,
  environmentName: string,
  pipelineName: string,
): string => encodeNodeId('PublishedPipeline', projectId, environmentName, pipelineName);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The type and Maia parts of an id, or undefined for anything the gateway did not issue. A bare UUID is a
 * project's or an execution's: both types kept Maia's id as their `id`, so existing clients keep working.
 */
export function decodeNodeId(id: string): DecodedNodeId | undefined {
  if (UUID.test(id)) return { type: 'ProjectOrPipelineExecution', parts: [id.toLowerCase()] };
  if (id.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
  const [type, ...encoded] = Buffer.from(id, 'base64url').toString('utf8').split(':');
  if (!(NODE_TYPES as readonly string[]).includes(type)) return undefined;
  const nodeType = type as NodeType;
  if (encoded.length !== PARTS[nodeType]) return undefined;
  try {
    const parts = encoded.map((part) => decodeURIComponent(part));
    if (UUID_TYPES.has(nodeType) && !UUID.test(parts[0])) return undefined;
    if (!parts.every((part) => part.length > 0)) return undefined;
    // The project (or execution) part is a UUID: any case names the same object.
    if (UUID.test(parts[0])) parts[0] = parts[0].toLowerCase();
    return { type: nodeType, parts };
  } catch {
    return undefined; // a malformed escape: not an id the gateway issued
  }
}
